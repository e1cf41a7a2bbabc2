// The terminal report of one analysis: the FF2 and FF1 grids of the paper's
// Fig. 5/11 (rows = layers, the last on top; columns = prompt tokens), shaded by
// norm when colour is on, then the answer, the loss and a per-layer table.
import type { Analysis, ExcludedRows } from '../lens/types.ts';
import { displayText } from '../tokenizer/bytes.ts';
import { num, prob, quoted } from './format.ts';
import { needsLightText, rampColor, unit, type Rgb } from './scale.ts';
import { AMBIGUOUS_NOTE, BLANK_NOTE, gridColumns, gridsOf, hasBlank, layerSummaries, rankText, type Grid, type LayerSummary } from './views.ts';
import { cut, displayWidth, fit } from './width.ts';

export type ColorMode = 'none' | '256' | 'truecolor';

export interface TerminalOptions {
  color: ColorMode;
  /** Columns per token cell. */
  cellWidth?: number;
}

const RESET = '\x1b[0m';
const EMPHASIS = '\x1b[1;4m';
const NO_EMPHASIS = '\x1b[22;24m';
const LAYER_WIDTH = 5;
const LEGEND_STEPS = 6;

export function renderTerminal(a: Analysis, opts: TerminalOptions): string {
  const width = opts.cellWidth ?? 10;
  const lines = [`${quoted(displayText(a.prompt))} → ${quoted(displayText(a.target))}`, ''];
  const grids = gridsOf(a);
  for (const grid of grids) lines.push(...renderGrid(a, grid, width, opts.color), '');
  if (grids.length === 0) lines.push('(no grid: the analysis has neither FF2 nor FF1)', '');
  lines.push(...summary(a));
  return lines.join('\n');
}

function renderGrid(a: Analysis, grid: Grid, width: number, color: ColorMode): string[] {
  const { spec } = grid;
  const legend = color === 'none'
    ? `the target is marked ${marked(a.targetTokens[0]!.text).trimStart()}`
    : `shade = ‖δ_i‖: 0 ${Array.from({ length: LEGEND_STEPS }, (_, s) => paint('  ', rampColor(s / (LEGEND_STEPS - 1)), color)).join('')} ${num(grid.maxNorm)}`;
  const columns = gridColumns(a);
  // Teacher-forced target tokens are columns too (they get gradient), marked with →.
  const header = `${fit('layer', LAYER_WIDTH, 'right')} │ ${columns.map((c) => fit(c.forced ? `→${c.token.text}` : c.token.text, width)).join(' ')}`.trimEnd();
  const rows = grid.rows.map((row) => {
    const cells = row.cells.map((c) => {
      const text = c.zero ? '' : c.token?.text ?? '?';
      if (color === 'none') return fit(c.isTarget ? marked(text) : text, width);
      const shown = cut(text, width);
      const padding = ' '.repeat(Math.max(0, width - displayWidth(shown)));
      return paint(`${c.isTarget ? `${EMPHASIS}${shown}${NO_EMPHASIS}` : shown}${padding}`, rampColor(unit(c.norm, grid.maxNorm)), color);
    });
    return `${fit(String(row.layer), LAYER_WIDTH, 'right')} │ ${cells.join(' ')}`.trimEnd();
  });
  return [
    `${spec.name} (${grid.module}): ${spec.caption}; ${legend}`,
    header,
    `${'─'.repeat(LAYER_WIDTH + 1)}┼${'─'.repeat(columns.length * (width + 1))}`,
    ...rows,
    ...(hasBlank(grid) ? [BLANK_NOTE] : []),
  ];
}

function summary(a: Analysis): string[] {
  const target = a.targetTokens.map((t) => t.text).join('');
  const lines = [
    `loss ${num(a.loss)} · the model answers ${quoted(a.original.text)} (p ${prob(a.original.prob)}) · target ${quoted(target)} (p ${prob(a.targetProb)}) · n = ${a.tokens.length} prompt tokens${a.forced.length ? ` + ${a.forced.length} teacher-forced target token${a.forced.length > 1 ? 's' : ''} (→ columns)` : ''}`,
  ];
  const layers = layerSummaries(a);
  const modules = layers[0]?.ranks.map((r) => r.module) ?? [];
  const hasFf2 = layers.some((l) => l.targetRank !== undefined);
  const columns: { head: string; cell: (l: LayerSummary) => string }[] = [
    { head: 'layer', cell: (l) => String(l.layer) },
    ...(hasFf2 ? [{ head: 'target rank in FF2 δ_n', cell: (l: LayerSummary) => String(l.targetRank ?? '') }] : []),
    ...modules.map((m, j) => ({ head: `rank ${m}`, cell: (l: LayerSummary) => rankText(l.ranks[j]!) })),
  ];
  const widths = columns.map((c) => Math.max(c.head.length, ...layers.map((l) => c.cell(l).length)));
  const line = (cells: string[]) => cells.map((s, j) => fit(s, widths[j]!, 'right')).join('  ');
  lines.push(
    ...(hasFf2 ? ['target rank: counted from the least probable token of LL(δ_n) at the last prompt token; 1 = the update writes the target in'] : []),
    `rank: exact rank of the weight gradient XᵀΔ (at most n; 1 where only the last token gets gradient)`,
    ...(a.settings.excluded ? [excludedNote(a.settings.excluded)] : []),
    line(columns.map((c) => c.head)),
    ...layers.map((l) => line(columns.map((c) => c.cell(l)))),
    ...(layers.some((l) => l.ranks.some((r) => r.ambiguous)) ? [AMBIGUOUS_NOTE] : []),
  );
  return lines;
}

function excludedNote({ count, padded, special }: ExcludedRows): string {
  return `the logit lens lists and ranks no special token and no vocabulary row the tokenizer lacks: ${count} left out (${special} special, ${padded} rows without a token)`;
}

/** *Paris* for " Paris": the leading space stays outside, where it shows the token's spacing. */
function marked(text: string): string {
  const [, space, rest] = /^(\s*)(.*)$/su.exec(text)!;
  return `${space}*${rest}*`;
}

/** On a background colour, with black or white text, whichever reads better. */
function paint(text: string, rgb: Rgb, color: ColorMode): string {
  const fg = needsLightText(rgb) ? [255, 255, 255] as const : [0, 0, 0] as const;
  const code = color === 'truecolor'
    ? `\x1b[48;2;${rgb.join(';')};38;2;${fg.join(';')}m`
    : `\x1b[48;5;${cube(rgb)};38;5;${cube(fg)}m`;
  return `${code}${text}${RESET}`;
}

// The 6x6x6 cube of the 256-colour palette: levels 0, 95, 135, 175, 215, 255.
const LEVELS = [0, 95, 135, 175, 215, 255];

function cube(rgb: Rgb): number {
  const nearest = (v: number) => LEVELS.reduce((best, l, i) => (Math.abs(l - v) < Math.abs(LEVELS[best]! - v) ? i : best), 0);
  return 16 + 36 * nearest(rgb[0]) + 6 * nearest(rgb[1]) + nearest(rgb[2]);
}
