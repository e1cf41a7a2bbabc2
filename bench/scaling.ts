// How `analyze` (all four modules) scales (issue 13): prompt lengths on a
// gpt2-small-shaped checkpoint and a gpt2-medium-shaped one, each case in its own
// child process so that its peak memory (VmHWM: checkpoint load included, as a
// user's run) is its own. Random F32 checkpoints are written once and reused.
//   node dist/bench/scaling.js [--cases small:8,small:16,small:32,small:128,medium:16] [--reps 1] [--warmup 0] [--json FILE]
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { STAGES, timeAnalyze, type Stage } from './lib/analyze-times.ts';
import { peakRss } from './lib/memory.ts';
import { promptOfLength } from './lib/prompts.ts';
import { cachedCheckpoint, shapeNamed, SHAPES } from './lib/shapes.ts';
import type { Timing } from './lib/stats.ts';

const HELP = `node dist/bench/scaling.js [--cases LIST] [--reps N] [--warmup N] [--json FILE]
Stage times and peak memory of \`analyze\` (all 4 modules) per model shape and prompt length.
  --cases LIST   shape:tokens, comma-separated; shapes ${Object.keys(SHAPES).join(', ')}
                 (default small:8,small:16,small:32,small:128,medium:16; tiny:8 for a trial)
  --reps N       timed runs per case, medians reported (default 1)
  --warmup N     untimed runs first (default 0: a user's first run)
  --json FILE    also write the results as JSON
Checkpoints are written once under ${join(tmpdir(), 'backward-lens-shapes')}.`;

const TARGET = ' Rome';
const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: 'small:8,small:16,small:32,small:128,medium:16' }, reps: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '0' }, json: { type: 'string' }, child: { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

interface CaseResult {
  shape: string;
  tokens: number;
  adapter: string;
  loadMs: number;
  stages: Record<Stage, Timing>;
  projected: number;
  peakRss: number;
}

if (values.child) {
  const [shape, tokens] = values.child.split(':');
  const k = await getEngine();
  const t0 = performance.now();
  const { model, tokenizer } = await loadModelPath(k, values.dir!);
  await k.sync();
  const loadMs = performance.now() - t0;
  const prompt = promptOfLength(tokenizer, Number(tokens));
  const { stages, last } = await timeAnalyze(model, tokenizer, prompt, TARGET, Number(values.reps), Number(values.warmup));
  // Vectors the lens projected: every d-wide x_i and delta_i (analyze.ts projects those).
  const d = model.config.nEmbd;
  const projected = last.layers.reduce((s, l) => s + l.modules.reduce((t, m) => t + (m.inDim === d ? m.x.length : 0) + (m.outDim === d ? m.delta.length : 0), 0), 0);
  const out: CaseResult = { shape: shape!, tokens: Number(tokens), adapter: k.gpu.adapterName, loadMs, stages, projected, peakRss: peakRss() };
  console.log(JSON.stringify(out));
  process.exit(0);
}

const cases = values.cases!.split(',').map((c) => {
  const [shape, tokens] = c.split(':');
  shapeNamed(shape!);
  if (!(Number(tokens) >= 1)) throw new Error(`case "${c}": write shape:tokens, e.g. small:16`);
  return { shape: shape!, tokens: Number(tokens) };
});
const started = { date: new Date().toISOString(), loadavg: loadavg() };
const results: (CaseResult & { fileBytes: number; loadavg: number[] })[] = [];
for (const c of cases) {
  const dir = await cachedCheckpoint(c.shape, 'F32', join(tmpdir(), 'backward-lens-shapes'));
  const r = spawnSync(process.execPath, [process.argv[1]!, '--child', `${c.shape}:${c.tokens}`, '--dir', dir, '--reps', values.reps!, '--warmup', values.warmup!], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`case ${c.shape}:${c.tokens} failed (exit ${r.status}):\n${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as CaseResult;
  results.push({ ...res, fileBytes: statSync(join(dir, 'model.safetensors')).size, loadavg: loadavg() });
}

const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`adapter: ${results[0]?.adapter}; ${started.date}; load average at start ${la(started.loadavg)}; medians of ${values.reps} run(s) after ${values.warmup} warm-up`);
const head = ['model', 'tokens', ...STAGES.map((s) => `${s} ms`), 'lens GFLOP/s', 'peak MB', 'x file', 'load avg'];
console.log(head.map((h, i) => (i === 0 ? h.padEnd(8) : (i === head.length - 1 ? '  ' + h : h.padStart(15)))).join(''));
for (const r of results) {
  const cfg = shapeNamed(r.shape);
  // The lens's matmul work: every projected vector against the whole vocabulary. The
  // ranks run beside the lens and the projections stage is what is left after them,
  // so the lens's time is the two stages together (a lower bound on its rate).
  const gflops = (2 * r.projected * cfg.nEmbd * cfg.vocabSize) / ((r.stages.projections.median_ms + r.stages.ranks.median_ms) * 1e6);
  const cells = [r.tokens, ...STAGES.map((s) => r.stages[s].median_ms.toFixed(0)), gflops.toFixed(2), (r.peakRss / 1e6).toFixed(0), (r.peakRss / r.fileBytes).toFixed(2)];
  console.log(r.shape.padEnd(8) + cells.map((c) => String(c).padStart(15)).join('') + '  ' + la(r.loadavg));
}
if (values.json) writeFileSync(values.json, JSON.stringify({ ...started, reps: Number(values.reps), warmup: Number(values.warmup), results }, null, 2));
