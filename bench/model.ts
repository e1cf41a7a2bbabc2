// End-to-end timings on a random gpt2-small-shaped model (12 layers, d 768, 12 heads,
// vocabulary 50,257) and a 16-token prompt: forward + backward with its per-op GPU
// breakdown (issue: GPT-2 on the engine), and `analyze` with all four modules broken
// into stages, plus the bytes its factors hold against dense gradients (issue: analyze).
//   node dist/bench/model.js [--reps N] [--analyze-reps N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { renderHtml } from '../src/report/html.ts';
import { renderJson, report } from '../src/report/json.ts';
import { renderTerminal } from '../src/report/terminal.ts';
import { Gpt2Tokenizer } from '../src/tokenizer/gpt2-bpe.ts';
import { timeAnalyze } from './lib/analyze-times.ts';
import { analysisPass } from './lib/pass.ts';
import { fmt, timing } from './lib/stats.ts';
import { randomGpt2, SHAPES } from './lib/shapes.ts';

const HELP = `node dist/bench/model.js [--reps N] [--analyze-reps N] [--json FILE]
Forward + backward and analyze timings on a random gpt2-small-shaped model.
  --reps N           forward + backward repetitions (default 5)
  --analyze-reps N   analyze repetitions (default 3)
  --json FILE        also write the results as JSON
  --help             this text`;

const { values } = parseArgs({ options: { reps: { type: 'string' }, 'analyze-reps': { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const reps = Number(values.reps ?? 5);
const analyzeReps = Number(values['analyze-reps'] ?? 3);

const GPT2_SMALL = SHAPES.small!;
const PROMPT = 'The Eiffel Tower, which was completed in 1889, is located in the city of';
const TARGET = ' Rome';

const k = await getEngine();
const model = randomGpt2(k, GPT2_SMALL);
const tokenizer = new Gpt2Tokenizer();
const ids = tokenizer.encode(PROMPT);
const target = tokenizer.encode(TARGET)[0]!;
console.log(`adapter: ${k.gpu.adapterName}; prompt of ${ids.length} tokens`);

async function forwardBackward(): Promise<number> {
  const t0 = performance.now();
  await analysisPass(model, ids, target);
  return performance.now() - t0;
}

await forwardBackward(); // warm-up: pipelines, uniforms
const fb = timing(await sequential(reps, forwardBackward));
k.startProfile();
await forwardBackward();
const ops = await k.stopProfile();
const gpuTotal = ops.reduce((s, o) => s + o.ms, 0);
console.log(`forward + backward (analysis tape, input gradients only): ${fmt(fb)}`);
console.log('per-op GPU time of one forward + backward:');
for (const o of ops) console.log(`  ${o.op.padEnd(42)} ${o.ms.toFixed(1).padStart(8)} ms  ${(100 * o.ms / gpuTotal).toFixed(1).padStart(5)} %  ${String(o.count).padStart(4)} dispatches`);

const reportMs: number[] = [];
const { stages: stageTimings, cpu, last } = await timeAnalyze(model, tokenizer, PROMPT, TARGET, analyzeReps, 1, (a) => {
  const t0 = performance.now();
  renderTerminal(a, { color: 'none' });
  const doc = report({ source: 'random gpt2-small', ...GPT2_SMALL }, [a]);
  renderJson(doc);
  renderHtml(doc);
  reportMs.push(performance.now() - t0);
});
const memory = last.memory;
console.log(`analyze, all 4 modules x 12 layers, k = 5:`);
for (const [s, t] of Object.entries(stageTimings)) console.log(`  ${s.padEnd(12)} ${fmt(t)}`);
console.log(`  ${'cpu'.padEnd(12)} ${fmt(cpu)} (process CPU time of the analysis, all threads)`);
console.log(`  ${'report'.padEnd(12)} ${fmt(timing(reportMs))} (terminal + JSON + HTML rendering)`);
console.log(`factor bytes ${(memory.factorBytes / 1e6).toFixed(2)} MB vs dense gradients ${(memory.denseBytes / 1e6).toFixed(1)} MB (${(100 * memory.factorBytes / memory.denseBytes).toFixed(2)} %)`);

if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: k.gpu.adapterName, promptTokens: ids.length, forwardBackward: fb, ops, analyze: { ...stageTimings, cpu, report: timing(reportMs) }, memory }, null, 2));
process.exit(0);

async function sequential(n: number, f: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}
