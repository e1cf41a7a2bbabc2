// The analysis form and its result: the HTML report's own header lines and section
// (grids with norm shading, target-rank and norm plots, gradient ranks, warnings)
// rendered into the page, with the report's tooltip script reading the same JSON;
// JSON and HTML downloads. A grid computed before the latest edit is marked stale.
import { analyze } from '../src/lens/analyze.ts';
import { ROLES, sizesOf, type Role } from '../src/model/config.ts';
import type { LoadedModel } from '../src/model/load.ts';
import { renderHtml, renderSection, reportMeta } from '../src/report/html.ts';
import { renderJson, report, type AppliedEdit, type Report } from '../src/report/json.ts';
import { $, download, el } from './dom.ts';
import { layersField, numberField } from './fields.ts';
import { readHash, writeHash, type ViewSettings } from './hash.ts';

export interface Loaded extends LoadedModel {
  source: string;
}

/** Milliseconds from "Run" to the grid drawn on screen, for the bench and the test. */
export interface RunTiming {
  ms: number;
}

const EMPTY_DATA = '{"results":[]}';
let last: Report | undefined;

/** One box per role, labelled with the checkpoint's module names (`names`: the loaded model's, or the embedded model's before one is loaded). */
export function setupModuleBoxes(names: Readonly<Record<Role, string>>): void {
  $('modules').replaceChildren(...ROLES.map((m) => {
    const box = el('input', undefined, { type: 'checkbox', value: m, name: 'module' });
    const label = el('label');
    label.append(box, ` ${names[m]}`);
    return label;
  }));
  applyHash();
}

/** Names the boxes as a newly loaded model's checkpoint does. */
export function labelModuleBoxes(names: Readonly<Record<Role, string>>): void {
  for (const box of document.querySelectorAll<HTMLInputElement>('#modules input')) box.nextSibling!.textContent = ` ${names[box.value as Role]}`;
}

/** Puts a link's settings into the form; the modules a link leaves out are unticked. */
export function applyHash(): void {
  const h = readHash();
  for (const box of document.querySelectorAll<HTMLInputElement>('#modules input')) box.checked = !h.modules || h.modules.includes(box.value as Role);
  if (h.prompt !== undefined) $<HTMLInputElement>('prompt').value = h.prompt;
  if (h.target !== undefined) $<HTMLInputElement>('target').value = h.target;
  if (h.k !== undefined) $<HTMLInputElement>('k').value = h.k;
  if (h.normalized !== undefined) $<HTMLInputElement>('normalized').checked = h.normalized;
  $<HTMLInputElement>('layers').value = h.layers ?? '';
}

export function readSettings(nLayer: number): ViewSettings & { layerList?: number[] } {
  const modules = [...document.querySelectorAll<HTMLInputElement>('#modules input:checked')].map((b) => b.value as Role);
  const k = numberField('k', 'k', true);
  const layerList = layersField(nLayer);
  if (modules.length === 0) throw new Error('tick at least one module');
  const layers = $<HTMLInputElement>('layers').value.trim();
  return {
    prompt: $<HTMLInputElement>('prompt').value,
    target: $<HTMLInputElement>('target').value,
    k,
    normalized: $<HTMLInputElement>('normalized').checked,
    ...(layerList ? { layers, layerList } : {}),
    modules,
  };
}

export async function runAnalysis(m: Loaded, edits: readonly AppliedEdit[], started: number): Promise<RunTiming> {
  const s = readSettings(m.model.config.nLayer);
  const [a] = await analyze(m.model, m.tokenizer, [{ prompt: s.prompt, target: s.target }], { k: s.k, normalized: s.normalized, modules: s.modules, ...(s.layerList ? { layers: s.layerList } : {}) });
  writeHash(s);
  last = report({ source: m.source, ...sizesOf(m.model.config), ...(edits.length ? { edits: [...edits] } : {}) }, [a!]);
  // textContent of a JSON script element is never parsed as HTML; reportMeta and renderSection escape every token.
  $('bl-data').textContent = JSON.stringify(last);
  $('analysis').innerHTML = reportMeta(last) + renderSection(a!, 0, m.model.config.vocabSize);
  $('stale').hidden = true;
  for (const id of ['download-json', 'download-html']) $<HTMLButtonElement>(id).disabled = false;
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  const ms = performance.now() - started;
  $('timing').textContent = `run to grid: ${(ms / 1000).toFixed(2)} s`;
  return { ms };
}

/** A model change: nothing of the previous model's analysis stays on screen or in the downloads. */
export function clearAnalysis(): void {
  last = undefined;
  $('bl-data').textContent = EMPTY_DATA;
  $('analysis').replaceChildren();
  $('stale').hidden = true;
  $('timing').textContent = '';
  $('bl-tip').hidden = true;
  for (const id of ['download-json', 'download-html']) $<HTMLButtonElement>(id).disabled = true;
}

/** After an edit or an undo the grid on screen describes weights the model no longer has. */
export function markStale(): void {
  if (last) $('stale').hidden = false;
}

export function setupDownloads(): void {
  $('download-json').addEventListener('click', () => last && download('backward-lens.json', 'application/json', renderJson(last)));
  $('download-html').addEventListener('click', () => last && download('backward-lens.html', 'text/html', renderHtml(last)));
}
