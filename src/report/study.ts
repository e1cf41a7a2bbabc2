// The study's figures (paper Figs. 4, 6, 7, 16-21) as standalone SVG files and one
// self-contained HTML page showing them all, from study.json's plain data.
import type { LastTokenRow, SegmentRow } from '../study/aggregate.ts';
import type { StudyDocument } from '../study/document.ts';
import { SEGMENTS } from '../pass/segments.ts';
import type { Summary } from '../study/stats.ts';
import { paperRole } from '../model/families/index.ts';
import { esc } from './escape.ts';
import { heatmap } from './heatmap.ts';
import { linePlot, type Series } from './plot.ts';

export interface Figure {
  /** File name under the output directory. */
  readonly file: string;
  readonly paper: string;
  readonly caption: string;
  readonly svg: string;
}

/** A module as the plots label it: the paper's name first for the MLP matrices (a document read back only has the checkpoint's names). */
function moduleLabel(module: string): string {
  const paper = { ff_in: 'FF1', ff_out: 'FF2' } as Partial<Record<string, string>>;
  const name = paper[paperRole(module) ?? ''];
  return name ? `${name} (${module})` : module;
}
// Seven, so a Llama's seven modules (q, k, v, o, gate, up, down) each get their own.
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
export const DASHES = ['', '7 4', '2 3', '10 3 2 3'];

// The plots and heatmaps are styled by class; a standalone file carries its own style.
const SVG_STYLE = 'text{font:11px system-ui,-apple-system,"Segoe UI",sans-serif;fill:#222}.plot-title{font-size:13px;font-weight:600}.plot-area{fill:none;stroke:#ccc}.grid-line{stroke:#eee}.cell{font-size:10px}';

export function standaloneSvg(svg: string): string {
  const open = svg.indexOf('>') + 1;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${svg.slice(0, open)}<style>${SVG_STYLE}</style><rect width="100%" height="100%" fill="#fff"/>${svg.slice(open)}\n`;
}

/** The ids a study's ranks count among: the vocabulary less what the lens leaves out. */
export function rankedIds(doc: StudyDocument): number {
  return doc.model.vocabSize - (doc.settings.excluded?.count ?? 0);
}

export function studyFigures(doc: StudyDocument): Figure[] {
  const a = doc.aggregates;
  const V = rankedIds(doc);
  const figs: Figure[] = [];
  const mods = doc.settings.modules;
  const layers = (rows: readonly { layer: number }[]) => rows.map((r) => String(r.layer));

  figs.push({
    file: 'fig4-rank-equals-n.svg',
    paper: 'Fig. 4',
    caption: 'Share of prompts whose gradient rank equals the prompt length n, per layer and module (Lemma 4.1 bounds it by n; the last layer\'s attention output and MLP gradients have rank 1).',
    svg: linePlot({
      title: 'Share of prompts with gradient rank = n',
      xLabel: 'layer',
      yLabel: 'share of prompts',
      series: mods.flatMap((m, j) => (a.rank[m] ? [{ name: moduleLabel(m), color: COLORS[j % COLORS.length]!, dash: DASHES[j % DASHES.length]!, points: a.rank[m]!.map((r) => [r.layer, r.share] as const) }] : [])),
    }),
  });

  const segmentMap = (rows: readonly SegmentRow[], pick: (s: Summary) => number | null) => SEGMENTS.map((s) => rows.map((r) => pick(r.segments[s])));
  for (const m of mods) {
    const rows = a.deltaNorm[m];
    if (!rows) continue;
    figs.push({
      file: `fig6-delta-norm-${m}.svg`,
      paper: paperRole(m) === 'ff_out' ? 'Fig. 6 / 16' : 'Fig. 16',
      caption: `Mean ‖δ_i‖ of ${moduleLabel(m)} per layer and prompt segment (white: almost no update).`,
      svg: heatmap({ title: `${moduleLabel(m)}: mean ‖δ_i‖`, rowLabels: SEGMENTS, colLabels: layers(rows), xLabel: 'layer', values: segmentMap(rows, (s) => s.mean), legend: 'mean ‖δ_i‖', scale: 'linear' }),
    });
  }
  for (const m of mods) {
    const rows = a.xNorm[m];
    if (!rows) continue;
    figs.push({
      file: `fig17-x-norm-${m}.svg`,
      paper: 'Fig. 17',
      caption: `Mean ‖x_i‖ of ${moduleLabel(m)}'s inputs per layer and prompt segment.`,
      svg: heatmap({ title: `${moduleLabel(m)}: mean ‖x_i‖`, rowLabels: SEGMENTS, colLabels: layers(rows), xLabel: 'layer', values: segmentMap(rows, (s) => s.mean), legend: 'mean ‖x_i‖', scale: 'linear' }),
    });
  }
  for (const m of mods) {
    const rows = a.targetRank[m];
    if (!rows) continue;
    figs.push({
      file: `fig7-target-rank-${m}.svg`,
      paper: 'Fig. 7',
      caption: `Median rank of the target from the bottom of LL(δ_i) of ${moduleLabel(m)} (1: the least probable token, what the update writes in); vocabulary ${V} tokens; δ_i of norm 0 left out.`,
      svg: heatmap({ title: `${moduleLabel(m)}: target's rank from the bottom of LL(δ_i)`, rowLabels: SEGMENTS, colLabels: layers(rows), xLabel: 'layer', values: segmentMap(rows, (s) => s.median), legend: 'median rank (log)', scale: { logRank: V } }),
    });
  }

  if (a.lastToken) {
    const rankPlot = (file: string, paper: string, title: string, caption: string, pick: (r: LastTokenRow) => Record<'all' | 'correct' | 'incorrect', Summary>) => {
      const series: Series[] = (['correct', 'incorrect'] as const).map((g, j) => ({
        name: `${g === 'correct' ? 'answered right' : 'answered wrong'} (${g === 'correct' ? a.correct : a.prompts - a.correct})`,
        color: COLORS[j]!,
        points: a.lastToken!.map((r) => [r.layer, pick(r)[g].median ?? NaN] as const),
      }));
      figs.push({ file, paper, caption, svg: linePlot({ title, xLabel: 'layer', yLabel: 'median rank (log)', series, logY: true, invertY: true }) });
    };
    rankPlot('fig18-target-rank-ff2-last.svg', 'Fig. 18', 'Target: rank from bottom, FF2 δ_n', `The target's rank from the bottom of LL(δ_n) of FF2 (last prompt token), per layer; of ${V} tokens.`, (r) => r.ff2DeltaTarget);
    rankPlot('fig19-original-rank-ff2-last.svg', 'Fig. 19', 'Original answer: rank from bottom, FF2 δ_n', `The model's original answer's rank from the bottom of LL(δ_n) of FF2, split by whether that answer was the true one; of ${V} tokens.`, (r) => r.ff2DeltaOriginal);
    rankPlot('fig20-original-rank-ff1-last.svg', 'Fig. 20', 'Original answer: rank from top, FF1 x_n', `The model's original answer's rank from the top of LL(x_n) of FF1, split by whether it was the true answer; of ${V} tokens.`, (r) => r.ff1XOriginal);
    rankPlot('fig21-target-rank-ff1-last.svg', 'Fig. 21', 'Target: rank from top, FF1 x_n', `The target's rank from the top of LL(x_n) of FF1: the model's intermediate prediction of the new answer; of ${V} tokens.`, (r) => r.ff1XTarget);
  }
  return figs;
}

export function renderStudyHtml(doc: StudyDocument, figures: readonly Figure[]): string {
  const d = doc.data;
  return figurePage(`Backward Lens study: ${d.file}`, 'Backward Lens study', `${d.studied} of ${d.selected} records (${d.layout}, ${d.file}, records ${d.records}); ${d.skipped.length} skipped; model ${doc.model.source} (${doc.model.nLayer} layers, d ${doc.model.nEmbd}, vocabulary ${doc.model.vocabSize}); ${doc.aggregates.correct} of ${doc.aggregates.prompts} answered with the true answer's first token; ${doc.settings.normalized ? 'normalized ' : ''}logit lens; ${doc.seconds.toFixed(1)} s.`, figures);
}

/** One self-contained page of figures with their captions, under a heading and a line about the data. */
export function figurePage(title: string, heading: string, meta: string, figures: readonly Figure[]): string {
  const sections = figures.map((f) => `<figure>${f.svg}<figcaption><b>${esc(f.paper)}</b> ${esc(f.caption)} <span class="file">${esc(f.file)}</span></figcaption></figure>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;background:#fafafa;max-width:1200px}
h1{font-size:22px;margin:0 0 6px}.meta{color:#555;margin:0 0 16px}
.figs{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0;width:560px}figcaption{font-size:12px;color:#444;margin-top:4px}.file{color:#888}
.plot{background:#fff;border:1px solid #ddd;font:11px system-ui,sans-serif}.plot text{fill:#222}
.plot-title{font-size:13px;font-weight:600}.plot-area{fill:none;stroke:#ccc}.grid-line{stroke:#eee}.cell{font-size:10px}
</style></head><body>
<h1>${esc(heading)}</h1>
<p class="meta">${esc(meta)}</p>
<div class="figs">
${sections}
</div>
</body></html>
`;
}
