// The analysis form and its result: the HTML report's own section (grids with norm
// shading, target-rank and norm plots, gradient ranks) rendered into the page, with
// the report's tooltip script reading the same JSON; JSON and HTML downloads.
import { layersIn, parseRanges } from '../src/data/ranges.ts';
import { BadInputError } from '../src/errors.ts';
import { analyze } from '../src/lens/analyze.ts';
import { ROLES, sizesOf, type Role } from '../src/model/config.ts';
import type { LoadedModel } from '../src/model/load.ts';
import { renderHtml, renderSection } from '../src/report/html.ts';
import { renderJson, report, type Report } from '../src/report/json.ts';
import { $, download, el } from './dom.ts';
import { readHash, writeHash, type ViewSettings } from './hash.ts';

export interface Loaded extends LoadedModel {
  source: string;
}

/** Milliseconds from "Run" to the grid drawn on screen, for the bench and the test. */
export interface RunTiming {
  ms: number;
}

let last: Report | undefined;

/** One box per role, labelled with the checkpoint's module names (`names`: the loaded model's, or the embedded model's before one is loaded). */
export function setupModuleBoxes(names: Readonly<Record<Role, string>>): void {
  const wanted = readHash().modules;
  $('modules').replaceChildren(...ROLES.map((m) => {
    const box = el('input', undefined, { type: 'checkbox', value: m, name: 'module' });
    box.checked = !wanted || wanted.includes(m);
    const label = el('label');
    label.append(box, ` ${names[m]}`);
    return label;
  }));
  const h = readHash();
  if (h.prompt !== undefined) $<HTMLInputElement>('prompt').value = h.prompt;
  if (h.target !== undefined) $<HTMLInputElement>('target').value = h.target;
  if (h.k !== undefined) $<HTMLInputElement>('k').value = String(h.k);
  if (h.normalized !== undefined) $<HTMLInputElement>('normalized').checked = h.normalized;
  if (h.layers) $<HTMLInputElement>('layers').value = h.layers.join(',');
}

/** Names the boxes as a newly loaded model's checkpoint does. */
export function labelModuleBoxes(names: Readonly<Record<Role, string>>): void {
  for (const box of document.querySelectorAll<HTMLInputElement>('#modules input')) box.nextSibling!.textContent = ` ${names[box.value as Role]}`;
}

export function readSettings(nLayer: number): ViewSettings {
  const modules = [...document.querySelectorAll<HTMLInputElement>('#modules input:checked')].map((b) => b.value as Role);
  const layers = layerField($<HTMLInputElement>('layers').value, nLayer);
  if (modules.length === 0) throw new Error('tick at least one module');
  return {
    prompt: $<HTMLInputElement>('prompt').value,
    target: $<HTMLInputElement>('target').value,
    k: Number($<HTMLInputElement>('k').value),
    normalized: $<HTMLInputElement>('normalized').checked,
    ...(layers ? { layers } : {}),
    modules,
  };
}

/** The layers field in the CLI's grammar (`2-3`, `0,5-7`); empty or `all` is every layer. */
export function layerField(value: string, nLayer: number): number[] | undefined {
  const text = value.trim();
  if (text === '' || text === 'all') return undefined;
  const fail = (problem: string) => new BadInputError(`layers "${text}": ${problem}; give layers 0-${nLayer - 1} like 2-3 or 0,5, or leave the field empty for all`);
  return layersIn(parseRanges(text, { noun: 'layer', fail }), nLayer, fail);
}

export async function runAnalysis(m: Loaded, started: number): Promise<RunTiming> {
  const s = readSettings(m.model.config.nLayer);
  const [a] = await analyze(m.model, m.tokenizer, [{ prompt: s.prompt, target: s.target }], { k: s.k, normalized: s.normalized, modules: s.modules, ...(s.layers ? { layers: s.layers } : {}) });
  writeHash(s);
  last = report({ source: m.source, ...sizesOf(m.model.config) }, [a!]);
  // textContent of a JSON script element is never parsed as HTML; renderSection escapes every token.
  $('bl-data').textContent = JSON.stringify(last);
  $('analysis').innerHTML = renderSection(a!, 0, m.model.config.vocabSize);
  for (const id of ['download-json', 'download-html']) $<HTMLButtonElement>(id).disabled = false;
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  const ms = performance.now() - started;
  $('timing').textContent = `run to grid: ${(ms / 1000).toFixed(2)} s`;
  return { ms };
}

export function setupDownloads(): void {
  $('download-json').addEventListener('click', () => last && download('backward-lens.json', 'application/json', renderJson(last)));
  $('download-html').addEventListener('click', () => last && download('backward-lens.html', 'text/html', renderHtml(last)));
}
