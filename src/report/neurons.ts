// Terminal rendering of the per-neuron view (paper App. B): Tables 2-5 as text, and
// the intersection / cosine heatmaps of Fig. 8-10 reduced to group means.
import { closestSpanning } from '../lens/neurons/geometry.ts';
import type { Lens, NeuronStats, NeuronView } from '../lens/neurons/types.ts';
import type { Role } from '../model/config.ts';
import { blockNameOf, paperRole } from '../model/families/index.ts';

const PAPER_NAMES: Partial<Record<Role, string>> = { ff_in: 'FF1', ff_out: 'FF2' };
const LIST_WIDTH = 34;
const CELL = 9;

/** `tokens`: the prompt's token texts, to label the spanning vectors. */
export function formatNeuronView(view: NeuronView, tokens: readonly string[] = []): string {
  const sym = view.spannedBy === 'delta' ? 'δ' : 'x';
  const label = (i: number) => `${sym}${i}${tokens[i] === undefined ? '' : ` ${tokens[i].trim()}`}`;
  const role = paperRole(view.module);
  const alias = role && PAPER_NAMES[role] ? ` (${PAPER_NAMES[role]})` : '';
  const where = view.orientation === 'rows' ? 'rows of XᵀΔ' : 'columns of XᵀΔ';
  const lines = [
    `${blockNameOf(view.layer, view.module)}${alias}: ${view.neuronCount} gradient neurons (${where}), spanned by ${sym}_i; ${view.settings.normalized ? 'normalized ' : ''}logit lens`,
    '',
    'Spanning vectors',
    row(['', 'norm', 'LL top', 'LL bottom'], [16, 10, LIST_WIDTH]),
    ...view.spanning.map((s) => row([clip(label(s.position), 15), num(s.norm), ...lists(s)], [16, 10, LIST_WIDTH])),
    '',
    'Gradient neurons by norm',
    row(['group', 'neuron', 'norm', 'LL top', 'LL bottom', `closest ${sym}_i (top-${view.settings.depth} ∩, cos)`], [10, 8, 10, LIST_WIDTH, LIST_WIDTH]),
    ...view.groups.flatMap((g) =>
      g.neurons.map((s, r) => row([r === 0 ? g.name : '', String(s.index), num(s.norm), ...lists(s), closest(s.cosine, s.intersection, label)], [10, 8, 10, LIST_WIDTH, LIST_WIDTH])),
    ),
    row(['zero vector', num(0), ...lists(view.zero)], [19, 10, LIST_WIDTH]),
    '',
    `Mean top-${view.settings.depth} LL intersection with each ${sym}_i (negative: -${sym}_i overlaps more) and with the zero vector`,
    ...statsTable(view, label, (s) => [...s.meanIntersection.map((x) => x.toFixed(1)), s.meanZeroIntersection.toFixed(1)], 'zero'),
    '',
    `Mean |cosine| with each ${sym}_i`,
    ...statsTable(view, label, (s) => s.meanAbsCosine.map((x) => x.toFixed(3))),
  ];
  return lines.map((l) => l.trimEnd()).join('\n');
}

function statsTable(view: NeuronView, label: (i: number) => string, cells: (s: NeuronStats) => string[], extra?: string): string[] {
  const widths = [10, ...view.spanning.map(() => CELL)];
  const head = [...view.spanning.map((s) => clip(label(s.position), CELL - 1)), ...(extra ? [extra] : [])];
  const bands = [...view.groups.map((g) => ({ name: g.name, stats: g.stats })), { name: 'all', stats: view.all }];
  return [row(['', ...head], widths), ...bands.map((b) => row([b.name, ...cells(b.stats)], widths))];
}

function closest(cosine: readonly number[], intersection: readonly number[], label: (i: number) => string): string {
  const best = closestSpanning(cosine);
  return best < 0 ? '-' : `${label(best)} (${intersection[best]}, ${cosine[best]!.toFixed(2)})`;
}

function lists(l: Lens): [string, string] {
  const join = (ts: Lens['top']) => clip(ts.map((t) => `"${t.text}"`).join(', '), LIST_WIDTH - 1);
  return [join(l.top), join(l.bottom)];
}

/** Pads each cell to its width; the last cell is left as it is. */
function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c)).join(' ');
}

function clip(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

function num(x: number): string {
  return x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(4) : x.toExponential(2);
}
