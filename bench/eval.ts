// Evaluation speed (issue: CounterFact evaluation): tokens/s of generation with the
// key/value cache and with full forward passes, and the time of each stage of one
// record's evaluation (probe = the six teacher-forced continuations, generation,
// WikiText perplexity) with the per-op GPU breakdown of the slowest, on the default
// model and on a random gpt2-small-shaped model.
//   node dist/bench/eval.js [--model default|small|both] [--reps N] [--ppl-texts N] [--gen-tokens N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseCounterFact } from '../src/data/counterfact.ts';
import { wikitextRows } from '../src/data/wikitext.ts';
import { probeRecord, recordFluency } from '../src/eval/counterfact.ts';
import { perplexity } from '../src/eval/score.ts';
import { getEngine } from '../src/gpu/engine.ts';
import { decode } from '../src/model/decode.ts';
import { Model } from '../src/model/model.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { Gpt2Tokenizer } from '../src/tokenizer/gpt2-bpe.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { randomGpt2, SHAPES } from './lib/shapes.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, reps: { type: 'string' }, 'ppl-texts': { type: 'string' }, 'gen-tokens': { type: 'string' } } });
const which = values.model ?? 'both';
const reps = Number(values.reps ?? 3);
const pplTexts = Number(values['ppl-texts'] ?? 100);

const k = await getEngine();
console.log(`adapter: ${k.gpu.adapterName}; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
const records = parseCounterFact(readFileSync('../shared/data/counterfact/counterfact-train.json', 'utf8'), 'counterfact-train.json').slice(0, reps + 1);
const wiki = wikitextRows(readFileSync('../shared/data/wikitext-2-raw/wiki.test.raw', 'utf8')).slice(0, pplTexts);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function profiled<T>(label: string, f: () => Promise<T>): Promise<void> {
  try {
    k.startProfile();
  } catch {
    return;
  }
  await f();
  const ops = await k.stopProfile();
  const total = ops.reduce((s, o) => s + o.ms, 0);
  console.log(`  per-op GPU time of ${label} (${total.toFixed(0)} ms in all):`);
  for (const o of ops.slice(0, 6)) console.log(`    ${o.op.padEnd(36)} ${o.ms.toFixed(1).padStart(9)} ms ${(100 * o.ms / total).toFixed(1).padStart(5)} %  ${o.count} dispatches`);
}

async function bench(name: string, model: Model, tokenizer: Tokenizer): Promise<void> {
  const genTokens = Math.min(Number(values['gen-tokens'] ?? 100), model.config.nPositions);
  console.log(`\n## ${name}: ${model.config.nLayer} layers, d ${model.config.nEmbd}, vocabulary ${model.config.vocabSize}, context ${model.config.nPositions}`);
  const prompts = [records[0]!.prompt, records[0]!.rephrase_prompt].map((p) => tokenizer.encode(p));
  const newTokens = prompts.map((p) => genTokens - p.length);
  for (const cache of [true, false]) {
    await decode(model, prompts, { newTokens: newTokens.map(() => 2), topK: 5, cache }); // warm-up
    const t0 = performance.now();
    await decode(model, prompts, { newTokens, topK: 5, seed: 1, cache });
    const ms = performance.now() - t0;
    const n = newTokens.reduce((a, b) => a + b, 0);
    console.log(`generation, 2 prompts to ${genTokens} tokens, top-k 5, ${cache ? 'KV cache        ' : 'full forward passes'}: ${ms.toFixed(0)} ms, ${(n / (ms / 1000)).toFixed(1)} tokens/s`);
  }
  const texts = wiki.map((t) => tokenizer.encode(t).slice(0, 256));
  await probeRecord(model, tokenizer, records[0]!);
  const stage = { probe: [] as number[], generation: [] as number[], perplexity: [] as number[] };
  for (let r = 1; r <= reps; r++) {
    const rec = records[r]!;
    let t0 = performance.now();
    await probeRecord(model, tokenizer, rec);
    stage.probe.push(performance.now() - t0);
    t0 = performance.now();
    await recordFluency(model, tokenizer, rec, 0, (m, p, o) => decode(m, p, o), genTokens);
    stage.generation.push(performance.now() - t0);
    if (r === 1 || name === 'default model') {
      t0 = performance.now();
      await perplexity(model, texts);
      stage.perplexity.push(performance.now() - t0);
    }
  }
  const total = median(stage.probe) + median(stage.generation) + median(stage.perplexity);
  console.log(`one record and one edited model (medians of ${reps}; perplexity over ${texts.length} WikiText rows):`);
  for (const [s, xs] of Object.entries(stage)) console.log(`  ${s.padEnd(11)} ${median(xs).toFixed(0).padStart(8)} ms ${(100 * median(xs) / total).toFixed(1).padStart(5)} %`);
  console.log(`  => ${(60000 / total).toFixed(2)} records/min per edit method (edit time not included); original: ${(60000 / (total - median(stage.perplexity))).toFixed(2)} records/min (perplexity once)`);
  await profiled('one WikiText perplexity pass', () => perplexity(model, texts));
}

if (which !== 'small') {
  const { model, tokenizer } = await loadModelPath(k, 'weights/default');
  await bench('default model', model, tokenizer);
  model.dispose();
}
if (which !== 'default') {
  const model = randomGpt2(k, SHAPES.small!);
  await bench('gpt2-small-shaped (random weights)', model, new Gpt2Tokenizer());
  model.dispose();
}
process.exit(0);
