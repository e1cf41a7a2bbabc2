// Side by side with PyTorch (issue 13): `analyze` of a prompt on a random GPT-2-shaped
// checkpoint, all four modules, by this engine and by bench/peers/analyze.py
// (PyTorch with hooks on the same modules, the same projections and ranks), one
// after the other in one run. First both sides' factors x_i and delta_i are
// compared, so the timings are of equal work; then each side's stage times, the
// ratio, and the BLAS that PyTorch used.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { factorTensors } from '../src/lens/factor-export.ts';
import { GradientPass } from '../src/pass/pass.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { writeSafetensorsNew } from '../src/model/node-file.ts';
import { STAGES, timeAnalyze } from './lib/analyze-times.ts';
import { blasEnv } from './lib/blas-dirs.ts';
import { compareWithPeer, type PeerResult } from './lib/peer-compare.ts';
import { promptOfLength } from './lib/prompts.ts';
import { cachedCheckpoint } from './lib/shapes.ts';
import { timing } from './lib/stats.ts';

const HELP = `node dist/bench/peer.js [--shape small] [--model DIR] [--tokens 16] [--reps 1] [--warmup 0]
       [--blas system] [--omp-wait passive|active] [--python /usr/bin/python3] [--threads N] [--tol 1e-3] [--json FILE]
Times \`analyze\` (all 4 modules) here and in PyTorch on the same checkpoint and prompt.
  --shape S       random checkpoint of shape tiny|small|medium|xl (F32), written once
                  under ${join(tmpdir(), 'backward-lens-shapes')} and reused (default small)
  --model DIR     a checkpoint directory instead (config.json + model.safetensors)
  --tokens N      prompt length in tokens (default 16)
  --reps N        timed runs per side, median reported (default 1)
  --warmup N      untimed runs per side first (default 0: a user's first run)
  --blas LIST     PyTorch runs, one per BLAS: system (what the alternatives select),
                  reference, openblas; comma-separated (default system)
  --omp-wait W    OMP_WAIT_POLICY for PyTorch (default: the environment's). On a machine
                  busier than its cores, spinning OpenMP threads make each small op
                  cost a scheduler slice (ranks 40x slower measured): pass passive
  --python P      the interpreter with torch (default /usr/bin/python3)
  --threads N     PyTorch threads (default: every core this process may use)
  --tol T         largest factor difference accepted, absolute or relative (default 1e-3)
  --json FILE     also write the results as JSON
Exits 0 with one line when torch does not import; 1 when the factors differ.`;

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'small' }, model: { type: 'string' }, tokens: { type: 'string', default: '16' },
    reps: { type: 'string', default: '1' }, warmup: { type: 'string', default: '0' }, python: { type: 'string', default: '/usr/bin/python3' },
    blas: { type: 'string', default: 'system' }, 'omp-wait': { type: 'string' }, threads: { type: 'string' }, tol: { type: 'string', default: '1e-3' }, json: { type: 'string' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const python = values.python!;
const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.log(`peer skipped: torch does not import for ${python}; install it with \`apt-get install python3-torch\``);
  process.exit(0);
}

const TARGET = ' Rome';
const choices = values.blas!.split(',');
// Checked before the minutes our side takes, so a missing library fails at once.
const ompWait = values['omp-wait']?.toUpperCase() ?? process.env.OMP_WAIT_POLICY;
if (ompWait && ompWait !== 'PASSIVE' && ompWait !== 'ACTIVE') throw new Error(`--omp-wait ${values['omp-wait']}: passive or active`);
const envs = choices.map((c) => ({ ...blasEnv(c), ...(ompWait ? { OMP_WAIT_POLICY: ompWait } : {}) }));
const reps = Number(values.reps);
const warmup = Number(values.warmup);
const work = mkdtempSync(join(tmpdir(), 'bl-peer-'));
try {
  const dir = values.model ?? (await cachedCheckpoint(values.shape!, 'F32', join(tmpdir(), 'backward-lens-shapes')));
  const k = await getEngine();
  const t0 = performance.now();
  const { model, tokenizer } = await loadModelPath(k, dir);
  await k.sync();
  const loadMs = performance.now() - t0;
  const prompt = promptOfLength(tokenizer, Number(values.tokens));
  const ids = tokenizer.encode(prompt);
  const targetIds = tokenizer.encode(TARGET);

  // Our factors go to a file first (an extra, untimed pass) for the peer to compare with.
  const factorsFile = join(work, 'ours.safetensors');
  const pass = GradientPass.run(model, tokenizer, [{ prompt, target: TARGET }]);
  try {
    await writeSafetensorsNew(factorsFile, await factorTensors(pass, 0));
  } finally {
    pass.dispose();
  }
  const ours = await timeAnalyze(model, tokenizer, prompt, TARGET, reps, warmup);

  const args = [fileURLToPath(new URL('../../bench/peers/analyze.py', import.meta.url)), '--model', dir, '--ids', ids.join(','), '--target', targetIds.join(','),
    '--reps', String(reps), '--warmup', String(warmup), '--factors', factorsFile, ...(values.threads ? ['--threads', values.threads] : [])];
  const peers = envs.map((env, i) => {
    const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
    if (run.status !== 0) throw new Error(`the PyTorch peer (--blas ${choices[i]}) failed (exit ${run.status}):\n${run.stderr}`);
    return JSON.parse(run.stdout.trim().split('\n').pop()!) as PeerResult;
  });
  const checks = peers.map((p) => compareWithPeer(ours.last, p, Number(values.tol)));

  const med = (runs: Record<string, number>[], s: string) => timing(runs.map((r) => r[s]!)).median_ms;
  const cfg = model.config;
  console.log(`adapter: ${k.gpu.adapterName}; PyTorch ${peers[0]!.torch}, ${peers[0]!.threads} threads, OMP_WAIT_POLICY ${ompWait ?? 'unset'}`);
  console.log(`model ${values.model ?? values.shape} (${cfg.nLayer} layers, d ${cfg.nEmbd}, V ${cfg.vocabSize}); prompt ${ids.length} tokens; ${peers[0]!.projected} vectors projected; ${new Date().toISOString()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  peers.forEach((p, i) => console.log(`PyTorch, --blas ${choices[i]}: ${p.blas.name} (${p.blas.loaded.join(', ') || 'none mapped'})\n  ${checks[i]!.lines.join('\n  ')}`));
  const names = choices.map((c) => `torch ${c}`);
  console.log(`\n${'stage (ms)'.padEnd(14)}${'ours'.padStart(10)}${names.map((n) => `${n.slice(0, 18).padStart(20)}${'ours/it'.padStart(9)}`).join('')}`);
  const rows = [...STAGES.map((s) => [s, ours.stages[s].median_ms, peers.map((p) => med(p.runs, s))] as const), ['load', loadMs, peers.map((p) => p.loadMs)] as const];
  for (const [s, a, bs] of rows) console.log(`${s.padEnd(14)}${a.toFixed(0).padStart(10)}${bs.map((b) => `${b.toFixed(0).padStart(20)}${(a / b).toFixed(2).padStart(9)}`).join('')}`);
  console.log(`(medians of ${reps} run${reps > 1 ? 's' : ''} after ${warmup} warm-up; load: checkpoint file to model, once)`);

  if (values.json) {
    writeFileSync(values.json, JSON.stringify({
      date: new Date().toISOString(), adapter: k.gpu.adapterName, loadavg: loadavg(), model: values.model ?? values.shape, tokens: ids.length, ids, targetIds, ompWaitPolicy: ompWait ?? null,
      projected: peers[0]!.projected, ours: { loadMs, ...ours.stages },
      pytorch: peers.map((p, i) => ({ blasChoice: choices[i], loadMs: p.loadMs, runs: p.runs, torch: p.torch, threads: p.threads, blas: p.blas, check: checks[i]!.summary, ratio: Object.fromEntries(rows.map(([s, a, bs]) => [s, a / bs[i]!])) })),
    }, null, 2));
  }
  process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit();
