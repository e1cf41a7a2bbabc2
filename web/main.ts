// The browser app (SPEC §7): a shell over the same engine as the CLI. It reads the
// DOM, loads a model through the browser-safe loader, and renders with src/report;
// nothing here computes what the library already does.
import { NoAdapterError } from '../src/gpu/device.ts';
import { getEngine } from '../src/gpu/engine.ts';
import type { Kernels } from '../src/gpu/kernels.ts';
import { loadModelFrom } from '../src/model/load.ts';
import { REPORT_STYLE } from '../src/report/html.ts';
import { TOOLTIP_SCRIPT } from '../src/report/html-script.ts';
import { applyHash, clearAnalysis, labelModuleBoxes, markStale, runAnalysis, setupDownloads, setupModuleBoxes, type Loaded, type RunTiming } from './analysis-panel.ts';
import { defaultFamily } from '../src/model/families/index.ts';
import { $, el, say } from './dom.ts';
import { appliedEdits, applyEdit, methodDefaults, resetEdits, undoEdit } from './edit-panel.ts';
import { describe, NO_WEBGPU } from './errors.ts';
import { describeEmbedded, embeddedModel, embeddedModels, type EmbeddedModel } from './embedded-models.ts';
import { droppedFolder, userModel, type ModelInput, type Progress } from './model-source.ts';

/** What the browser test reads: the loaded model's name, the last run's timing, and whether work is in flight. */
export interface AppState {
  adapter?: string;
  model?: string;
  busy: boolean;
  loads: number;
  runs: number;
  edits: number;
  lastRun?: RunTiming;
  errors: number;
}

declare global {
  interface Window { blApp: AppState }
}

const state: AppState = { busy: false, loads: 0, runs: 0, edits: 0, errors: 0 };
window.blApp = state;
let engine: Kernels | undefined;
let loaded: Loaded | undefined;

// The report's look and tooltips, from the report's own modules.
document.head.append(Object.assign(document.createElement('style'), { textContent: REPORT_STYLE }));
document.body.append(Object.assign(document.createElement('script'), { textContent: TOOLTIP_SCRIPT }));

/** One job at a time; every failure is a one-line message and the page stays usable. `work` may return a note to leave on screen. */
async function job(what: string, work: () => Promise<string | void>): Promise<void> {
  if (state.busy) return say('busy: wait for the current job to finish', 'info');
  state.busy = true;
  say(`${what}…`, 'info');
  try {
    say((await work()) ?? '', 'info');
  } catch (e) {
    state.errors++;
    say(describe(e));
  } finally {
    state.busy = false;
  }
}

async function getKernels(): Promise<Kernels> {
  if (!('gpu' in navigator)) throw new NoAdapterError(NO_WEBGPU);
  if (!engine) {
    engine = await getEngine();
    state.adapter = engine.gpu.adapterName;
    engine.gpu.device.lost.then((lost) => {
      engine = undefined;
      loaded = undefined;
      state.model = undefined;
      say(`the GPU device was lost (${lost.message || lost.reason}); load the model again`);
      $('model-info').textContent = '';
    });
  }
  return engine;
}

let lastProgress: Progress | undefined;

function showProgress(p: Progress): void {
  lastProgress = { ...p };
  const bar = $<HTMLProgressElement>('load-progress');
  bar.hidden = false;
  bar.value = p.total ? p.bytes / p.total : 0;
  $('load-status').textContent = `${(p.bytes / 1e6).toFixed(1)} of ${(p.total / 1e6).toFixed(1)} MB${p.tensors ? `, ${p.tensors} tensors` : ''}`;
}

/** A loaded model is 100 %: buffers the loader skips (attn.bias) are never read, so the bytes fall short of the file. */
function progressDone(): void {
  $<HTMLProgressElement>('load-progress').value = 1;
  const p = lastProgress;
  $('load-status').textContent = p ? `done: ${(p.bytes / 1e6).toFixed(1)} MB read${p.tensors ? `, ${p.tensors} tensors` : ''}` : 'done';
}

async function load(input: () => Promise<ModelInput>): Promise<void> {
  const k = await getKernels();
  const started = performance.now();
  const src = await input();
  const next = await loadModelFrom(k, src.weights, src.config, src.tokenizer);
  loaded?.model.dispose();
  loaded = { ...next, source: src.name };
  clearAnalysis();
  resetEdits(next.model.config, src.embedded && src.name === 'default');
  progressDone();
  state.model = src.name;
  state.loads++;
  const c = next.model.config;
  labelModuleBoxes(next.model.family.modules);
  const seconds = (performance.now() - started) / 1000;
  const heads = `${c.nHead} heads${c.nKvHead === c.nHead ? '' : ` (${c.nKvHead} key/value)`}`;
  $('model-info').textContent = `${src.name}: ${next.model.family.displayName}, ${c.nLayer} layers, d = ${c.nEmbd}, ${heads}, vocabulary ${c.vocabSize}, context ${c.nPositions}; loaded in ${seconds.toFixed(2)} s on ${k.gpu.adapterName}`;
}

function needModel(): Loaded {
  // Without WebGPU no model can load; the message that says why stays.
  if (!('gpu' in navigator)) throw new NoAdapterError(NO_WEBGPU);
  if (!loaded) throw new Error('no model loaded: pick the embedded model or your own files first');
  return loaded;
}

setupModuleBoxes(defaultFamily.modules);
setupDownloads();
let embedded: EmbeddedModel[] = [];

/** Loads the embedded model the picker shows; none shipped is a note, and the visitor's files still load. */
async function loadEmbedded(): Promise<string | void> {
  const m = embedded[$<HTMLSelectElement>('embedded').selectedIndex];
  if (!m) return 'no embedded model beside this page: pick your model\'s folder';
  await load(() => embeddedModel(m, showProgress));
}

/** The picker's options, from models/index.json, each with its family. */
async function listEmbedded(): Promise<void> {
  embedded = await embeddedModels();
  const labels = await Promise.all(embedded.map(describeEmbedded));
  $('embedded').replaceChildren(...labels.map((label, i) => el('option', label, { value: embedded[i]!.name })));
}

$('load-embedded').addEventListener('click', () => void job('loading the embedded model', loadEmbedded));
for (const id of ['files', 'folder']) {
  $<HTMLInputElement>(id).addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    // Emptied, so choosing the same files again is a change and reloads them.
    input.value = '';
    if (files.length) void job('loading your model', () => load(() => userModel(files, showProgress)));
  });
}
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  // The entries exist only while the event is dispatched: taken now, read later.
  const folder = [...(e.dataTransfer?.items ?? [])].map((item) => item.webkitGetAsEntry()).find((entry) => entry?.isDirectory);
  const files = [...(e.dataTransfer?.files ?? [])];
  if (folder) void job('loading your model', () => load(() => droppedFolder(folder as FileSystemDirectoryEntry, showProgress)));
  else if (files.length) void job('loading your model', () => load(() => userModel(files, showProgress)));
});
// A submit event also comes from Enter in any field of the form.
$('analysis-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const started = performance.now();
  void job('running the Backward Lens', async () => {
    state.lastRun = await runAnalysis(needModel(), appliedEdits(), started);
    state.runs++;
  });
});
$('method').addEventListener('change', methodDefaults);
$('edit-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void job('editing', async () => {
    const changed = await applyEdit(needModel());
    state.edits++;
    if (!changed) return 'the shift changed nothing: the target already is the top-1 next token';
    markStale();
  });
});
$('undo').addEventListener('click', () => void job('undoing the last edit', async () => {
  await undoEdit(needModel());
  state.edits++;
  markStale();
}));
// A link pasted or followed on the open page: its settings, and its analysis once a model is in.
window.addEventListener('hashchange', () => {
  applyHash();
  if (loaded && new URLSearchParams(location.hash.slice(1)).has('prompt')) $<HTMLFormElement>('analysis-form').requestSubmit();
});

// The first embedded model loads at once: the quick-start pair is one Enter away.
if (!('gpu' in navigator)) say(NO_WEBGPU);
else {
  void job('loading the embedded model', async () => {
    await listEmbedded();
    return loadEmbedded();
  }).then(() => {
    // A shared link (#prompt=...&target=...) opens on its analysis.
    if (loaded && new URLSearchParams(location.hash.slice(1)).has('prompt')) $<HTMLFormElement>('analysis-form').requestSubmit();
  });
}
