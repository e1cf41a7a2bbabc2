// ROME and MEMIT speed (issue 15): second-moment statistics in tokens/s, the Cholesky
// factor of C, and seconds per edit (ROME, MEMIT one fact, MEMIT ten facts at once),
// on the default model and on a random gpt2-small-shaped model. Statistics are
// collected afresh over the windows `backward-lens stats` uses (not cached); edits
// are CounterFact training records, each undone before the next.
// Random weights never reach the value search's early stop, so their edits run every
// step: an upper bound for a trained model of that shape.
//   node dist/bench/located.js [--model default|small|both] [--batch 10 (0: none)] [--small-tokens 4096] [--edits 3] [--json FILE]   (from the repository root)
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseCounterFact, spaced } from '../src/data/counterfact.ts';
import { wikitextStatsText } from '../src/data/wikitext.ts';
import { LocatedEditor, type LocatedSpec } from '../src/edit/located/editor.ts';
import { secondMoments, textWindows } from '../src/edit/located/second-moment.ts';
import { DEFAULT_MODEL_LOCATED, ROME_VALUE, MEMIT_VALUE } from '../src/edit/located/rome-hparams.ts';
import { getEngine } from '../src/gpu/engine.ts';
import type { Model } from '../src/model/model.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { Gpt2Tokenizer } from '../src/tokenizer/gpt2-bpe.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { randomGpt2, SHAPES } from './lib/shapes.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'both' }, batch: { type: 'string', default: '10' }, 'small-tokens': { type: 'string', default: '4096' }, 'default-tokens': { type: 'string', default: '20480' }, edits: { type: 'string', default: '3' }, json: { type: 'string' } } });
const edits = Number(values.edits);
const k = await getEngine();
const machine = `${k.gpu.adapterName}; ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at start`;
console.log(machine);
const records = parseCounterFact(readFileSync('../shared/data/counterfact/counterfact-train.json', 'utf8'), 'counterfact-train.json');
const batchSize = Number(values.batch);
const requests = records.slice(0, Math.max(batchSize, 1 + edits)).map((r) => ({ prompt: r.prompt, subject: r.subject, target: spaced(r.target_new) }));

interface Row {
  model: string;
  what: string;
  seconds: number;
  rate?: string;
}
const rows: Row[] = [];
const row = (r: Row) => {
  rows.push(r);
  console.log(`${r.model} | ${r.what} | ${r.seconds.toFixed(2)} s${r.rate ? ` | ${r.rate}` : ''}`);
};
const secondsOf = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const out = await f();
  return [out, (performance.now() - t0) / 1000];
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const statsText = wikitextStatsText(readFileSync('../shared/data/wikitext-2-raw/wiki.test.raw', 'utf8'));

async function measure(name: string, model: Model, tokenizer: Tokenizer, tokens: number, rome: LocatedSpec, memit: LocatedSpec): Promise<void> {
  try {
    const layers = [...new Set([...rome.layers, ...memit.layers])].sort((a, b) => a - b);
    // The windows `backward-lens stats` uses (context capped at 256), without its cache file.
    const windows = textWindows(tokenizer, statsText, Math.min(model.config.nPositions, 256), tokens);
    const [{ moments, tokens: counted }, statsS] = await secondsOf(() => secondMoments(model, windows, layers));
    row({ model: name, what: `statistics, layers ${layers.join(',')} in one set of passes (blocks 0-${layers[layers.length - 1]}), ${counted} tokens`, seconds: statsS, rate: `${Math.round(counted / statsS)} tokens/s` });
    const f = model.config.nInner;
    const editor = new LocatedEditor(model, tokenizer, async (l) => moments.get(l)!);
    const [, setupS] = await secondsOf(async () => {
      await editor.prepare(rome);
      await editor.prepare(memit);
    });
    row({ model: name, what: `set-up, once per model: context prefixes sampled, C factored (Cholesky, f ${f}) at ${layers.length} layers`, seconds: setupS });
    for (const spec of [rome, memit]) {
      const times: number[] = [];
      const steps: number[] = [];
      for (const request of requests.slice(0, edits)) {
        const [out, s] = await secondsOf(() => editor.apply(spec, [request]));
        model.restore();
        times.push(s);
        steps.push(out.losses[0]!.length);
      }
      row({ model: name, what: `${spec.method} layers ${spec.layers.join(',')}, one fact (median of ${times.length}; value steps ${steps.join(', ')})`, seconds: median(times) });
    }
    if (batchSize > 1) {
      const [batch, batchS] = await secondsOf(() => editor.apply(memit, requests.slice(0, batchSize)));
      model.restore();
      row({ model: name, what: `memit layers ${memit.layers.join(',')}, ${batchSize} facts at once (value steps up to ${Math.max(...batch.losses.map((l) => l.length))})`, seconds: batchS, rate: `${(batchS / batchSize).toFixed(2)} s per fact` });
    }
  } finally {
    model.dispose();
  }
}

const d = DEFAULT_MODEL_LOCATED;
if (values.model !== 'small') {
  const def = await loadModelPath(k, 'weights/default');
  await measure('default (4 × 128)', def.model, def.tokenizer, Number(values['default-tokens']),
    { method: 'rome', layers: [d.romeLayer], lambda: 0, value: d.romeValue },
    { method: 'memit', layers: d.memitLayers, lambda: d.memitLambda, value: d.memitValue });
}
// gpt2-small has no row in the authors' files: ROME's layer and MEMIT's five layers are
// placed at GPT-2 XL's relative depth (17 and 13-17 of 48), with the authors' value search.
if (values.model !== 'default') {
  await measure('random gpt2-small shape (12 × 768)', randomGpt2(k, SHAPES.small!), new Gpt2Tokenizer(), Number(values['small-tokens']),
    { method: 'rome', layers: [4], lambda: 0, value: ROME_VALUE },
    { method: 'memit', layers: [3, 4, 5, 6, 7], lambda: 20000, value: MEMIT_VALUE });
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ machine, rows }, null, 2)}\n`);
