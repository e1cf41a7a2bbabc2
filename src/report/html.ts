// The HTML report: one self-contained file (inline CSS, SVG and script; nothing
// fetched) with, per analysis, the FF2 and FF1 grids of the paper's Fig. 5/11
// shaded by norm, hover tooltips with the top-k and bottom-k lists, line plots of
// the target's rank and of ‖δ_n‖ per layer, and the gradient ranks.
import type { Analysis } from '../lens/types.ts';
import type { Role } from '../model/config.ts';
import { blockNameOf, roleNamed } from '../model/families/index.ts';
import { esc, scriptSafe } from './escape.ts';
import { num, prob, quoted, visible } from './format.ts';
import { TOOLTIP_SCRIPT } from './html-script.ts';
import { compactJsonChunks, type AppliedEdit, type Report } from './json.ts';
import { linePlot, type Series } from './plot.ts';
import { formatNeuronView } from './neurons.ts';
import type { NeuronView } from '../lens/neurons/types.ts';
import { cssColor, needsLightText, rampColor, unit } from './scale.ts';
import { AMBIGUOUS_NOTE, BLANK_NOTE, gridColumns, gridsOf, hasBlank, layerSummaries, rankText, type Grid } from './views.ts';

const MODULE_COLORS: Record<Role, string> = { attn_in: '#1f77b4', attn_out: '#2ca02c', ff_in: '#9467bd', ff_out: '#d62728' };
const LEGEND_TICKS = 5;

export function renderHtml(r: Report): string {
  return [...htmlChunks(r)].join('');
}

/**
 * renderHtml's text in pieces, a section at a time and the embedded data in pieces of
 * about 64k characters: a --pairs file of thousands makes a report longer than one
 * string may be.
 */
export function* htmlChunks(r: Report): Generator<string> {
  const first = r.results[0];
  const title = first ? `Backward Lens: ${quoted(first.prompt)} → ${quoted(first.target)}${r.results.length > 1 ? ` and ${r.results.length - 1} more` : ''}` : 'Backward Lens';
  yield '<!doctype html>\n';
  yield '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\n';
  // The empty icon keeps the browser from asking for /favicon.ico.
  yield `<link rel="icon" href="data:,"><title>${esc(title)}</title><style>${REPORT_STYLE}</style></head><body>\n`;
  yield `${header(r)}\n`;
  yield `${r.results.length > 1 ? `<nav><ol>${r.results.map((a, p) => `<li><a href="#pair-${p}">${esc(`${quoted(a.prompt)} → ${quoted(a.target)}`)}</a></li>`).join('')}</ol></nav>` : ''}\n`;
  for (const [p, a] of r.results.entries()) yield `${renderSection(a, p, r.model.vocabSize, r.neurons?.[p])}\n`;
  yield '<div id="bl-tip" role="tooltip" hidden></div>\n';
  yield '<script type="application/json" id="bl-data">';
  for (const piece of compactJsonChunks(r)) yield scriptSafe(piece);
  yield '</script>\n';
  yield `<script>${TOOLTIP_SCRIPT}</script>\n`;
  yield '</body></html>';
}

function header(r: Report): string {
  return `<header><h1>Backward Lens report</h1>
${reportMeta(r)}
<p class="help">The fine-tuning gradient of a weight matrix W is XᵀΔ = Σ<sub>i</sub> x<sub>i</sub>ᵀδ<sub>i</sub> over the prompt tokens i:
x<sub>i</sub> is the layer's input and δ<sub>i</sub> = ∂L/∂(x<sub>i</sub>W) its VJP. The FF2 grid shows, per layer and token, the least probable token of the logit lens of δ<sub>i</sub>
(what the update writes in: it subtracts δ); the FF1 grid the most probable token of x<sub>i</sub>. The shade is ‖δ<sub>i</sub>‖ of that module: white cells barely change the weights.
Hover or focus a cell for its k most and least probable tokens.</p></header>`;
}

/** The model, its edits and the run's settings (k, lens, modules): the report's header lines, which the web app shows too. */
export function reportMeta(r: Report): string {
  const m = r.model;
  const s = r.results[0]?.settings;
  const settings = s ? `; modules ${s.modules.join(', ')}; k = ${s.k}; ${s.normalized ? 'normalized logit lens LL(v/‖v‖)' : 'logit lens LL(v)'}; loss on the ${s.targetTokens === 'all' ? 'target\'s every token' : 'target\'s first token'}` : '';
  const edits = m.edits?.length ? `\n<p class="meta edits">${esc(`edited in memory before this analysis (${m.edits.length}): ${m.edits.map(describeEdit).join('; ')}`)}</p>` : '';
  return `<p class="meta">${esc(`model ${m.source}: ${m.nLayer} layers, d = ${m.nEmbd}, ${m.nHead} heads, vocabulary ${m.vocabSize}${settings}`)}</p>${edits}`;
}

export function describeEdit(e: AppliedEdit): string {
  const steps = e.method === 'shift' ? `up to ${e.steps} pass${e.steps > 1 ? 'es' : ''}` : `${e.steps} step${e.steps > 1 ? 's' : ''}`;
  return `${e.method} at layer ${e.layers.join(',')}, η ${e.lr}, ${steps}: ${quoted(e.prompt)} → ${quoted(e.target)}`;
}

/** One analysis: summary, grids, plots and ranks. The web app renders the same section into its page. */
export function renderSection(a: Analysis, p: number, vocabSize: number, neurons?: NeuronView): string {
  const target = a.targetTokens.map((t) => t.text).join('');
  const summary = `loss ${num(a.loss)} · the model answers <b>${esc(quoted(a.original.text))}</b> (p ${prob(a.original.prob)}) · target <b>${esc(quoted(target))}</b> (p ${prob(a.targetProb)}) · n = ${a.tokens.length} prompt tokens · factors ${kb(a.memory.factorBytes)} against ${kb(a.memory.denseBytes)} of dense gradients`;
  const grids = gridsOf(a);
  return `<section class="pair" id="pair-${p}">
<h2>${esc(quoted(a.prompt))} → ${esc(quoted(a.target))}</h2>
<p class="summary">${summary}</p>
${a.warnings.length ? `<ul class="warnings">${a.warnings.map((w) => `<li>warning: ${esc(w)}</li>`).join('')}</ul>` : ''}
${grids.length ? grids.map((g) => gridTable(a, g, p)).join('\n') : '<p class="note">No grid: neither FF2 nor FF1 was analysed.</p>'}
<div class="plots">${plots(a, vocabSize)}</div>
${rankTable(a)}
${neurons ? neuronSection(a, neurons) : ''}
</section>`;
}

/** The terminal's neuron tables (App. B), verbatim: their columns line up in monospace. */
function neuronSection(a: Analysis, view: NeuronView): string {
  return `<details class="neurons" open><summary>Per-neuron view of ${esc(blockNameOf(view.layer, view.module))} (App. B): gradient neurons grouped by norm, their logit lens, overlap and cosine with each spanning vector</summary>
<pre>${esc(formatNeuronView(view, a.tokens.map((t) => t.text)))}</pre></details>`;
}

function gridTable(a: Analysis, g: Grid, p: number): string {
  const head = `<tr><th>layer</th>${gridColumns(a).map((c) => (c.forced ? `<th class="forced" title="teacher-forced target token">→${esc(visible(c.token.text))}</th>` : `<th>${esc(visible(c.token.text))}</th>`)).join('')}</tr>`;
  const rows = g.rows.map((row, r) => {
    const cells = row.cells.map((c, i) => {
      const bg = rampColor(unit(c.norm, g.maxNorm));
      const style = `background:${cssColor(bg)};color:${needsLightText(bg) ? '#fff' : '#000'}`;
      // One Tab stop per grid; the tooltip script moves focus inside it with the arrow keys.
      const tab = r === 0 && i === 0 ? '0' : '-1';
      return `<td tabindex="${tab}" class="${c.isTarget ? 'target' : ''}" style="${style}" data-p="${p}" data-l="${row.layerIndex}" data-m="${row.moduleIndex}" data-v="${g.spec.vector}" data-i="${i}">${c.zero ? '' : esc(visible(c.token?.text ?? '?'))}</td>`;
    });
    return `<tr><th>${row.layer}</th>${cells.join('')}</tr>`;
  });
  return `<figure class="grid"><figcaption><b>${g.spec.name}</b> (${g.module}): ${esc(g.spec.caption)}; the target is outlined</figcaption>
${legend(g.maxNorm)}
<div class="scroll"><table>${head}${rows.join('')}</table></div>${hasBlank(g) ? `<p class="note">${esc(BLANK_NOTE)}</p>` : ''}</figure>`;
}

function legend(max: number): string {
  const stops = Array.from({ length: 9 }, (_, s) => cssColor(rampColor(s / 8))).join(',');
  const ticks = Array.from({ length: LEGEND_TICKS }, (_, t) => `<span>${num((max * t) / (LEGEND_TICKS - 1))}</span>`).join('');
  return `<div class="legend"><span class="legend-label">‖δ<sub>i</sub>‖</span><div><div class="legend-bar" style="background:linear-gradient(to right,${stops})"></div><div class="legend-ticks">${ticks}</div></div></div>`;
}

function plots(a: Analysis, vocabSize: number): string {
  const layers = layerSummaries(a).reverse();
  const out: string[] = [];
  if (layers.some((l) => l.targetRank !== undefined)) {
    const series: Series[] = [
      { name: `target ${quoted(a.targetTokens[0]!.text)}`, color: '#d62728', points: layers.flatMap((l) => (l.targetRank !== undefined ? [[l.layer, l.targetRank] as const] : [])) },
      { name: `answer ${quoted(a.original.text)}`, color: '#7f7f7f', points: layers.flatMap((l) => (l.originalRank !== undefined ? [[l.layer, l.originalRank] as const] : [])) },
    ];
    const ex = a.settings.excluded;
    const of = ex ? `${vocabSize - ex.count} ranked ids` : String(vocabSize);
    out.push(linePlot({ title: `Rank in LL(δ_n) of FF2, from the bottom (of ${of})`, xLabel: 'layer', yLabel: 'rank (1 = least probable)', series, logY: true, invertY: true }));
  }
  const modules = layers[0]?.lastDeltaNorms ?? [];
  const colorOf = (module: string) => {
    const role = roleNamed(module);
    return role ? MODULE_COLORS[role] : '#7f7f7f';
  };
  const norms: Series[] = modules.map(({ module }, j) => ({ name: module, color: colorOf(module), points: layers.map((l) => [l.layer, l.lastDeltaNorms[j]!.norm] as const) }));
  const values = norms.flatMap((s) => s.points.map(([, y]) => y));
  // Norms often span orders of magnitude across layers; a linear axis would flatten all but the largest.
  const logY = values.every((v) => v > 0) && Math.max(...values) > 100 * Math.min(...values);
  if (norms.length) out.push(linePlot({ title: '‖δ_n‖ at the last prompt token', xLabel: 'layer', yLabel: '‖δ_n‖', series: norms, logY }));
  return out.join('');
}

function rankTable(a: Analysis): string {
  const layers = layerSummaries(a);
  const modules = layers[0]?.ranks.map((r) => r.module) ?? [];
  return `<table class="ranks"><caption>Exact rank of the weight gradient XᵀΔ (at most the ${a.tokens.length + a.forced.length} rows that get gradient)</caption>
<tr><th>layer</th>${modules.map((m) => `<th>${m}</th>`).join('')}</tr>
${layers.map((l) => `<tr><th>${l.layer}</th>${l.ranks.map((r) => `<td>${rankText(r)}</td>`).join('')}</tr>`).join('\n')}</table>${layers.some((l) => l.ranks.some((r) => r.ambiguous)) ? `<p class="help">${esc(AMBIGUOUS_NOTE)}</p>` : ''}`;
}

function kb(bytes: number): string {
  return bytes >= 1e6 ? `${num(bytes / 1e6)} MB` : `${num(bytes / 1e3)} kB`;
}

/** The report's CSS, shared with the web app so the two look alike. */
export const REPORT_STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 4px;white-space:pre-wrap}
.meta,.help,.summary{max-width:1100px;margin:4px 0}.help{color:#555}
.pair{border-top:1px solid #ddd;margin-top:24px}
.grid{margin:18px 0}.grid figcaption{margin-bottom:6px}
.scroll{overflow-x:auto}
.grid table{border-collapse:collapse;font:13px/1.2 ui-monospace,Menlo,Consolas,monospace}
.grid th{font-weight:600;padding:3px 6px;white-space:pre;max-width:9em;overflow:hidden;text-overflow:ellipsis;background:#eee;border:1px solid #ddd}
.grid td{padding:4px 6px;white-space:pre;max-width:9em;overflow:hidden;text-overflow:ellipsis;border:1px solid #e4e4e4;cursor:default}
.grid td.target{font-weight:700;outline:2px solid #0a58ca;outline-offset:-2px}
.grid td:focus{outline:2px solid #000;outline-offset:-2px}
.legend{display:flex;align-items:flex-start;gap:8px;margin:0 0 8px;font-size:12px}
.legend-label{padding-top:2px}.legend-bar{width:320px;height:14px;border:1px solid #bbb}
.legend-ticks{display:flex;justify-content:space-between;width:322px}
.plots{display:flex;flex-wrap:wrap;gap:16px;margin:12px 0}
.plot{background:#fff;border:1px solid #ddd;font:11px system-ui,sans-serif}
.plot-title{font-size:13px;font-weight:600}.plot-area{fill:none;stroke:#ccc}.grid-line{stroke:#eee}
.neurons pre{font:12px/1.3 ui-monospace,Menlo,Consolas,monospace;overflow-x:auto;background:#fff;border:1px solid #ddd;padding:8px}.neurons summary{cursor:pointer;font-weight:600;margin:12px 0 6px}
.ranks{border-collapse:collapse;font-size:13px;margin:8px 0;display:block;overflow-x:auto;max-width:100%}.ranks caption{text-align:left;margin-bottom:4px}
.ranks th,.ranks td{border:1px solid #ddd;padding:2px 8px;text-align:right}
#bl-tip{position:absolute;z-index:10;background:#fff;border:1px solid #999;box-shadow:0 2px 8px rgba(0,0,0,.2);padding:8px 10px;font-size:12px;max-width:min(520px,calc(100vw - 16px));box-sizing:border-box;overflow:auto}
.warnings{color:#8a4b00;margin:4px 0;padding-left:20px}
.tip-title{font-weight:700;margin-bottom:4px;white-space:pre-wrap}.tip-lists{display:flex;gap:16px;margin-top:6px}
.tip-head{font-weight:600}.tip-list td{padding:0 6px 0 0;white-space:pre}.tip-list .p{text-align:right;color:#555}
nav ol{margin:8px 0;padding-left:20px}
`;
