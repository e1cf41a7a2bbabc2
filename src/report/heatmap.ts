// A small SVG heatmap (rows × columns of numbers) with a colour legend, for the
// study's layer × segment figures. Plain strings from plain data, no scripts: the
// same markup works inline in HTML and as a standalone .svg file.
import { esc } from './escape.ts';
import { num } from './format.ts';
import { cssColor, needsLightText, rampColor } from './scale.ts';

export interface HeatmapOptions {
  readonly title: string;
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  readonly xLabel: string;
  /** values[row][col]; null = no data (drawn grey, marked "–"). */
  readonly values: readonly (readonly (number | null)[])[];
  /** What the colour means, under the legend. */
  readonly legend: string;
  /** 'linear': white at 0, dark at the maximum. 'log-rank': dark at rank 1, white at `maxRank`. */
  readonly scale: 'linear' | { readonly logRank: number };
}

const W = 560;
const LEFT = 150;
const RIGHT = 96;
const TOP = 30;
const ROW = 22;
const BOTTOM = 40;
// Below this cell width numbers no longer fit in the cells; the <title> still has them.
const MIN_TEXT_CELL = 34;

export function heatmap(o: HeatmapOptions): string {
  const nRows = o.rowLabels.length;
  const nCols = o.colLabels.length;
  const cellW = (W - LEFT - RIGHT) / Math.max(1, nCols);
  const H = TOP + nRows * ROW + BOTTOM;
  const finite = o.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const max = Math.max(0, ...finite);
  const t = (v: number) => {
    if (o.scale === 'linear') return max > 0 ? v / max : 0;
    return 1 - Math.log(Math.max(1, v)) / Math.log(Math.max(2, o.scale.logRank));
  };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot heatmap" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`,
    `<text x="${(LEFT + W - RIGHT) / 2}" y="18" text-anchor="middle" class="plot-title">${esc(o.title)}</text>`,
  ];
  o.rowLabels.forEach((label, r) => {
    const y = TOP + r * ROW;
    parts.push(`<text x="${LEFT - 6}" y="${y + ROW / 2 + 4}" text-anchor="end">${esc(label)}</text>`);
    o.colLabels.forEach((_, c) => {
      const v = o.values[r]?.[c] ?? null;
      const x = LEFT + c * cellW;
      const fill = v === null ? [238, 238, 238] as const : rampColor(t(v));
      parts.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${cellW.toFixed(1)}" height="${ROW}" fill="${cssColor(fill)}" stroke="#fff" stroke-width="0.5"><title>${esc(`${label}, ${o.xLabel} ${o.colLabels[c]}: ${v === null ? 'no tokens' : num(v)}`)}</title></rect>`);
      if (cellW >= MIN_TEXT_CELL) {
        const color = v !== null && needsLightText(fill) ? '#fff' : '#222';
        parts.push(`<text x="${(x + cellW / 2).toFixed(1)}" y="${y + ROW / 2 + 4}" text-anchor="middle" class="cell" style="fill:${color}">${v === null ? '–' : esc(num(v))}</text>`);
      }
    });
  });
  const step = Math.max(1, Math.ceil(nCols / 16));
  o.colLabels.forEach((label, c) => {
    if (c % step === 0) parts.push(`<text x="${(LEFT + (c + 0.5) * cellW).toFixed(1)}" y="${TOP + nRows * ROW + 14}" text-anchor="middle">${esc(label)}</text>`);
  });
  parts.push(`<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(legend(o, max, TOP, nRows * ROW));
  parts.push('</svg>');
  return parts.join('');
}

/** A vertical colour bar right of the cells: dark (top) to white (bottom), labelled at both ends and the middle. */
function legend(o: HeatmapOptions, max: number, top: number, height: number): string {
  const x = W - RIGHT + 14;
  const stops = Array.from({ length: 11 }, (_, i) => `<stop offset="${i / 10}" stop-color="${cssColor(rampColor(1 - i / 10))}"/>`).join('');
  const id = `ramp${Math.abs(hash(o.title))}`;
  const label = (f: number) => {
    if (o.scale === 'linear') return num(max * f);
    return num(Math.round(Math.exp((1 - f) * Math.log(Math.max(2, o.scale.logRank)))));
  };
  return [
    `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
    `<rect x="${x}" y="${top}" width="12" height="${height}" fill="url(#${id})" stroke="#999" stroke-width="0.5"/>`,
    ...[1, 0.5, 0].map((f) => `<text x="${x + 16}" y="${(top + (1 - f) * height + 4).toFixed(1)}">${esc(label(f))}</text>`),
    `<text transform="translate(${W - 8} ${top + height / 2}) rotate(-90)" text-anchor="middle">${esc(o.legend)}</text>`,
  ].join('');
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return h;
}
