// The sweep's table (median and quartiles of eta and perplexity per method x layer)
// and its figure in the style of Fig. 24: x = layer, y = eta on a log axis, a second
// panel with the perplexity at that eta; one curve of medians per method.
import type { SweepSummaryRow } from '../eval/sweep.ts';
import { num } from './format.ts';
import { linePlot, type Series } from './plot.ts';

const COLORS: Record<string, string> = { shift: '#d62728', sgd: '#1f77b4', adam: '#2ca02c' };
const NAMES: Record<string, string> = { shift: 'forward pass shift', sgd: 'SGD (1 step)', adam: 'Adam (1 step)' };

export function sweepTable(rows: readonly SweepSummaryRow[], header: readonly string[]): string {
  const q = (x: SweepSummaryRow['eta']) => (x ? `${num(x.median)} (${num(x.q1)} – ${num(x.q3)})` : '–');
  return [
    ...header,
    '',
    '| Method | Layer | Reached / records | η: median (Q1 – Q3) | Perplexity at η: median (Q1 – Q3) |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${NAMES[r.method]} | ${r.layer} | ${r.reached} / ${r.records} | ${q(r.eta)} | ${q(r.perplexity)} |`),
    '',
  ].join('\n');
}

const STYLE = 'text{font:11px sans-serif;fill:#222}.plot-title{font-weight:bold}.plot-area{fill:none;stroke:#888}.grid-line{stroke:#ddd}';

export function sweepSvg(rows: readonly SweepSummaryRow[]): string {
  const methods = [...new Set(rows.map((r) => r.method))];
  const series = (pick: (r: SweepSummaryRow) => number | undefined): Series[] => methods.map((m) => ({
    name: NAMES[m]!,
    color: COLORS[m]!,
    points: rows.filter((r) => r.method === m).flatMap((r) => {
      const y = pick(r);
      return y === undefined ? [] : [[r.layer, y] as const];
    }),
  }));
  const top = linePlot({ title: 'Minimum learning rate for a successful edit (median)', xLabel: 'layer', yLabel: 'η', logY: true, series: series((r) => r.eta?.median) });
  const bottom = linePlot({ title: 'Perplexity at the minimum learning rate (median)', xLabel: 'layer', yLabel: 'WikiText perplexity', logY: true, series: series((r) => r.perplexity?.median) });
  const [w, h] = [560, 260];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${2 * h}" width="${w}" height="${2 * h}">`,
    `<style>${STYLE}</style><rect width="${w}" height="${2 * h}" fill="#fff"/>`,
    top.replace('<svg ', '<svg x="0" y="0" '),
    bottom.replace('<svg ', `<svg x="0" y="${h}" `),
    '</svg>',
    '',
  ].join('\n');
}
