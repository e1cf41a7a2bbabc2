// Where an analysis's memory and time go: resident memory (VmRSS) and its peak (VmHWM)
// of this process after each stage of `analyze` (16 tokens, every layer and module),
// with V8's heap and its ArrayBuffers, in MiB, and each stage's wall and CPU time (user +
// system of the whole process, lavapipe's threads included: on a loaded machine the CPU
// time measures the work, the wall time mostly the load), and analyze's norms, ranks and
// projections. `--warm DIR` first analyses another
// (small) checkpoint, so every pipeline is compiled and the tokenizer built before the
// measured model loads: the difference is what compilation and the tokenizer take.
// `--prompt` ends the prompt with that text (filled to `--tokens` from a fixed passage).
//   node dist/bench/analyze-memory.js --model DIR [--warm DIR] [--tokens 16] [--prompt TEXT] [--target " Rome"]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { analyzePass, type StageTimes } from '../src/lens/analyze.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { GradientPass } from '../src/pass/pass.ts';
import { promptEndingWith } from './lib/prompts.ts';

const { values } = parseArgs({ options: {
  model: { type: 'string' }, warm: { type: 'string' }, tokens: { type: 'string', default: '16' }, prompt: { type: 'string', default: '' }, target: { type: 'string', default: ' Rome' },
} });
if (!values.model) {
  console.error('usage: analyze-memory --model DIR [--warm DIR] [--tokens 16] [--prompt TEXT] [--target " Rome"]');
  process.exit(2);
}
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0).padStart(5);
const started = performance.now();
let last = started;
let lastCpu = process.cpuUsage();
function stage(label: string): void {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  const m = process.memoryUsage();
  const now = performance.now();
  const cpu = process.cpuUsage(lastCpu);
  const secs = (ms: number) => (ms / 1000).toFixed(1).padStart(6);
  console.log(`${label.padEnd(22)} rss ${mib(kb('VmRSS'))}  peak ${mib(kb('VmHWM'))}  V8 heap ${mib(m.heapUsed)}  ArrayBuffers ${mib(m.arrayBuffers)}  stage ${secs(now - last)} s (CPU ${secs((cpu.user + cpu.system) / 1000)} s)  since start ${secs(now - started)} s`);
  last = now;
  lastCpu = process.cpuUsage();
}

async function analyzeOnce(dir: string, label: string): Promise<void> {
  const { model, tokenizer } = await loadModelPath(k, dir);
  stage(`${label}: loaded`);
  const prompt = promptEndingWith(tokenizer, Number(values.tokens), values.prompt!);
  const pass = GradientPass.run(model, tokenizer, [{ prompt, target: values.target! }]);
  try {
    await k.sync();
    stage(`${label}: pass`);
    const times: StageTimes = { pass: 0, norms: 0, ranks: 0, projections: 0 };
    await analyzePass(pass, tokenizer, {}, times);
    stage(`${label}: analysed`);
    console.log(`${label}: ${pass.rows(0)} tokens ${JSON.stringify(prompt)}; analysis stages, s: ${Object.entries(times).filter(([s]) => s !== 'pass').map(([s, ms]) => `${s} ${(ms / 1000).toFixed(1)}`).join(', ')}`);
  } finally {
    pass.dispose();
    model.dispose();
  }
}

stage('start');
const k = await getEngine();
stage('engine');
if (values.warm) await analyzeOnce(values.warm, 'warm-up');
await analyzeOnce(values.model, 'model');
