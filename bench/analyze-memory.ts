// Where an analysis's memory goes: resident memory (VmRSS) and its peak (VmHWM) of
// this process after each stage of `analyze` (16 tokens, every layer and module),
// with V8's heap and its ArrayBuffers, in MiB. `--warm DIR` first analyses another
// (small) checkpoint, so every pipeline is compiled and the tokenizer built before
// the measured model loads: the difference is what compilation and the tokenizer take.
//   node dist/bench/analyze-memory.js --model DIR [--warm DIR] [--tokens 16]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { analyzePass } from '../src/lens/analyze.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { GradientPass } from '../src/pass/pass.ts';
import { promptOfLength } from './lib/prompts.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, warm: { type: 'string' }, tokens: { type: 'string', default: '16' } } });
if (!values.model) {
  console.error('usage: analyze-memory --model DIR [--warm DIR] [--tokens 16]');
  process.exit(2);
}
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0).padStart(5);
function stage(label: string): void {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  const m = process.memoryUsage();
  console.log(`${label.padEnd(22)} rss ${mib(kb('VmRSS'))}  peak ${mib(kb('VmHWM'))}  V8 heap ${mib(m.heapUsed)}  ArrayBuffers ${mib(m.arrayBuffers)}`);
}

async function analyzeOnce(dir: string, label: string): Promise<void> {
  const { model, tokenizer } = await loadModelPath(k, dir);
  stage(`${label}: loaded`);
  const pass = GradientPass.run(model, tokenizer, [{ prompt: promptOfLength(tokenizer, Number(values.tokens)), target: ' Rome' }]);
  try {
    await k.sync();
    stage(`${label}: pass`);
    await analyzePass(pass, tokenizer);
    stage(`${label}: analysed`);
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
