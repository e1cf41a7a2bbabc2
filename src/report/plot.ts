// A small inline-SVG line plot (per-layer curves) for the HTML report: no
// scripts, no fonts to fetch; each point carries a <title> the browser shows on hover.
import { esc } from './escape.ts';
import { num } from './format.ts';
import { cut } from './width.ts';

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** SVG stroke-dasharray, so curves that coincide stay distinguishable. */
  readonly dash?: string;
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic y axis (ranks, norms across orders of magnitude). */
  readonly logY?: boolean;
  /** Small values at the top (rank 1 = best). */
  readonly invertY?: boolean;
  /**
   * A fractional x axis (layer / L across models): its extent and ticks. Without it,
   * x is a layer index, ticked at whole numbers over the points' extent.
   */
  readonly xAxis?: { readonly domain: readonly [number, number]; readonly ticks: readonly number[] };
}

// The legend sits in the right margin, where no curve can run under it.
const W = 560;
const H = 260;
const M = { left: 62, right: 150, top: 30, bottom: 44 };
const MAX_X_TICKS = 12;
// What fits in the right margin at 11 px.
const LEGEND_CHARS = 20;

export function linePlot(o: PlotOptions): string {
  const usable = (y: number) => Number.isFinite(y) && (!o.logY || y > 0);
  const points = o.series.flatMap((s) => s.points.filter(([, y]) => usable(y)));
  const xs = points.map(([x]) => x);
  const [x0, x1] = o.xAxis?.domain ?? (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1]);
  const xPad = x0 === x1 ? 1 : 0;
  const sx = (x: number) => M.left + ((x - x0 + xPad) / (x1 - x0 + 2 * xPad)) * (W - M.left - M.right);
  const { ticks: yTicks, fraction } = yAxis(points.map(([, y]) => y), o.logY ?? false);
  const sy = (y: number) => {
    const f = fraction(y);
    return M.top + (o.invertY ? f : 1 - f) * (H - M.top - M.bottom);
  };
  const xStep = Math.max(1, Math.ceil((x1 - x0 + 1) / MAX_X_TICKS));
  const xTicks = o.xAxis?.ticks ?? (xs.length ? Array.from({ length: Math.floor((x1 - x0) / xStep) + 1 }, (_, i) => x0 + i * xStep) : []);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`,
    `<text x="${(M.left + W - M.right) / 2}" y="18" text-anchor="middle" class="plot-title">${esc(o.title)}</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" class="plot-area"/>`,
    ...yTicks.map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" class="grid-line"/><text x="${M.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${esc(tickLabel(t))}</text>`),
    ...xTicks.map((t) => `<text x="${sx(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`),
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  ];
  o.series.forEach((s, j) => {
    const pts = s.points.filter(([, y]) => usable(y));
    const coords = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    if (coords.length > 1) parts.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    pts.forEach(([x, y], i) => {
      const [cx, cy] = coords[i]!.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}, ${o.xAxis ? `${o.xLabel} ${num(x)}` : `layer ${x}`}: ${num(y)}`)}</title></circle>`);
    });
    const ly = M.top + 10 + 16 * j;
    parts.push(`<rect x="${W - M.right + 10}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/><text x="${W - M.right + 24}" y="${ly}">${esc(cut(s.name, LEGEND_CHARS))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Whole numbers in full (ranks: 10000, not 1e4); others as everywhere else. */
function tickLabel(t: number): string {
  return Number.isInteger(t) && t < 1e7 ? String(t) : num(t);
}

/** Tick values and the map value -> [0, 1] along the axis. */
function yAxis(ys: number[], log: boolean): { ticks: number[]; fraction: (y: number) => number } {
  if (log) {
    const lo = Math.floor(Math.log10(ys.length ? Math.min(...ys) : 1));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(ys.length ? Math.max(...ys) : 10)));
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
    return { ticks, fraction: (y) => (Math.log10(y) - lo) / (hi - lo) };
  }
  const step = niceStep((ys.length ? Math.max(0, ...ys) : 1) / 4);
  const top = Math.max(1, Math.ceil(Math.max(0, ...ys) / step)) * step;
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
  return { ticks, fraction: (y) => y / top };
}

/** The smallest of 1, 2, 5 x 10^k at or above v (1 for v <= 0): round tick steps. */
function niceStep(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v * (1 - 1e-9))!;
}
