// Before/after in one run (issue 13): two git revisions, each cloned into a temp
// dir and built there (reusing this checkout's node_modules), then `backward-lens
// analyze` of the same prompt and checkpoint run alternately, A B A B ..., as a user
// runs it: process start, load, analysis, grid. Per pair: wall time and peak memory
// of each; then the medians and their ratio, with the load average. Only committed
// code is compared (a clone sees commits, not the working tree).
//   node dist/bench/ab.js [--base REV] [--head REV] [--pairs 3] [--shape small] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gpt2Tokenizer } from '../src/tokenizer/gpt2-bpe.ts';
import { promptOfLength } from './lib/prompts.ts';
import { cachedCheckpoint, SHAPES } from './lib/shapes.ts';
import { timing } from './lib/stats.ts';

const HELP = `node dist/bench/ab.js [--base REV] [--head REV] [--pairs N] [--shape S | --model DIR] [--model-b DIR] [--tokens N] [--warmup N] [--keep] [--json FILE]
Times \`backward-lens analyze\` (all 4 modules) of two revisions alternately in one run.
  --base REV     the "before" (default: where HEAD left main, or HEAD~1 on main itself)
  --head REV     the "after" (default HEAD)
  --pairs N      A/B pairs timed (default 3)
  --shape S      random F32 checkpoint, ${Object.keys(SHAPES).join('|')} (default small), written once
                 under ${join(tmpdir(), 'backward-lens-shapes')}
  --model DIR    a checkpoint directory instead
  --model-b DIR  B analyses this checkpoint instead (same shape, another dtype: with
                 --base HEAD, F16 against F32 on the same code)
  --tokens N     prompt length in tokens (default 16)
  --warmup N     untimed runs of each revision first (default 0)
  --keep         keep the clones (their paths are printed)
  --json FILE    also write the results as JSON`;

const { values } = parseArgs({
  options: {
    base: { type: 'string' }, head: { type: 'string', default: 'HEAD' }, pairs: { type: 'string', default: '3' }, shape: { type: 'string', default: 'small' },
    model: { type: 'string' }, 'model-b': { type: 'string' }, tokens: { type: 'string', default: '16' }, warmup: { type: 'string', default: '0' }, keep: { type: 'boolean' },
    json: { type: 'string' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const git = (...args: string[]): string => {
  const r = spawnSync('git', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
};
const root = git('rev-parse', '--show-toplevel');
const headSha = git('rev-parse', '--verify', `${values.head}^{commit}`);
const baseSha = values.base ? git('rev-parse', '--verify', `${values.base}^{commit}`) : defaultBase(headSha);

function defaultBase(head: string): string {
  const forked = git('merge-base', head, 'main');
  return forked === head ? git('rev-parse', `${head}~1`) : forked;
}

const work = mkdtempSync(join(tmpdir(), 'bl-ab-'));
// Peak memory of each CLI run, read by the process itself as it exits: any
// revision's CLI can be measured without changing it.
const peakHook = join(work, 'peak.mjs');
// CPU time too (the adapter's threads are the process's): on a loaded machine it
// compares the work done where wall time mostly measures the other processes.
writeFileSync(peakHook, `import { readFileSync, writeFileSync } from 'node:fs';
process.on('exit', () => {
  const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const cpu = process.cpuUsage();
  if (process.env.BL_AB_PEAK) writeFileSync(process.env.BL_AB_PEAK, \`\${m ? Number(m[1]) * 1024 : 0} \${(cpu.user + cpu.system) / 1000}\`);
});
`);

interface Side {
  label: 'A' | 'B';
  sha: string;
  dir: string;
  ms: number[];
  cpu: number[];
  peak: number[];
}

function checkout(label: 'A' | 'B', sha: string): Side {
  const dir = join(work, label);
  git('clone', '--quiet', '--shared', '--no-checkout', root, dir);
  git('-C', dir, 'checkout', '--quiet', '--detach', sha);
  symlinkSync(realpathSync(join(root, 'node_modules')), join(dir, 'node_modules'));
  const t0 = performance.now();
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, encoding: 'utf8' });
  if (b.status !== 0 || !existsSync(join(dir, 'dist/cli.js'))) throw new Error(`building ${sha.slice(0, 7)} failed:\n${b.stderr}`);
  console.log(`${label} = ${sha.slice(0, 7)} ${git('log', '-1', '--format=%s', sha).slice(0, 90)} (built in ${((performance.now() - t0) / 1000).toFixed(0)} s${values.keep ? `, ${dir}` : ''})`);
  return { label, sha, dir, ms: [], cpu: [], peak: [] };
}

try {
  const model = values.model ?? (await cachedCheckpoint(values.shape!, 'F32', join(tmpdir(), 'backward-lens-shapes')));
  const modelB = values['model-b'] ?? model;
  const fileBytes = statSync(join(model, 'model.safetensors')).size;
  const fileBytesB = statSync(join(modelB, 'model.safetensors')).size;
  const prompt = promptOfLength(new Gpt2Tokenizer(), Number(values.tokens));
  const sides = [checkout('A', baseSha), checkout('B', headSha)];
  const peakFile = join(work, 'peak');

  const analyze = (s: Side): { ms: number; cpu: number; peak: number } => {
    rmSync(peakFile, { force: true });
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', `file://${peakHook}`, 'dist/cli.js', 'analyze', '--model', s.label === 'B' ? modelB : model, '--prompt', prompt, '--target', ' Rome', '--no-color'],
      { cwd: s.dir, encoding: 'utf8', env: { ...process.env, BL_AB_PEAK: peakFile }, maxBuffer: 64 << 20 });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${s.label} (${s.sha.slice(0, 7)}) analyze failed (exit ${r.status}):\n${r.stderr}`);
    const [peak, cpu] = readFileSync(peakFile, 'utf8').split(' ').map(Number);
    return { ms, cpu: cpu!, peak: peak! };
  };

  for (let i = 0; i < Number(values.warmup); i++) sides.forEach(analyze);
  const la = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`checkpoint ${model} (${(fileBytes / 1e6).toFixed(0)} MB)${modelB !== model ? `, B: ${modelB} (${(fileBytesB / 1e6).toFixed(0)} MB)` : ''}; prompt ${values.tokens} tokens; ${new Date().toISOString()}; load average ${la()}`);
  const pairs: { a: number; b: number; loadavg: number[] }[] = [];
  for (let p = 0; p < Number(values.pairs); p++) {
    const [a, b] = sides.map((s) => {
      const r = analyze(s);
      s.ms.push(r.ms);
      s.cpu.push(r.cpu);
      s.peak.push(r.peak);
      return r;
    });
    pairs.push({ a: a!.ms, b: b!.ms, loadavg: loadavg() });
    console.log(`pair ${p + 1}: A ${(a!.ms / 1000).toFixed(2)} s, CPU ${(a!.cpu / 1000).toFixed(2)} s (${(a!.peak / 1e6).toFixed(0)} MB)  B ${(b!.ms / 1000).toFixed(2)} s, CPU ${(b!.cpu / 1000).toFixed(2)} s (${(b!.peak / 1e6).toFixed(0)} MB)  A/B ${(a!.ms / b!.ms).toFixed(2)}  load ${la()}`);
  }
  const [A, B] = sides.map((s) => ({ time: timing(s.ms), cpu: timing(s.cpu), peak: timing(s.peak) }));
  const mb = (x: number, file: number) => `${(x / 1e6).toFixed(0)} MB (${(x / file).toFixed(2)} x file)`;
  console.log(`median A ${(A!.time.median_ms / 1000).toFixed(2)} s, B ${(B!.time.median_ms / 1000).toFixed(2)} s: A/B = ${(A!.time.median_ms / B!.time.median_ms).toFixed(2)}x`);
  console.log(`CPU time median A ${(A!.cpu.median_ms / 1000).toFixed(2)} s, B ${(B!.cpu.median_ms / 1000).toFixed(2)} s: A/B = ${(A!.cpu.median_ms / B!.cpu.median_ms).toFixed(2)}x`);
  console.log(`peak memory median A ${mb(A!.peak.median_ms, fileBytes)}, B ${mb(B!.peak.median_ms, fileBytesB)}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({
      date: new Date().toISOString(), base: baseSha, head: headSha, model, fileBytes, ...(modelB !== model ? { modelB, fileBytesB } : {}), tokens: Number(values.tokens), pairs,
      a: { ms: sides[0]!.ms, cpuMs: sides[0]!.cpu, peakRss: sides[0]!.peak }, b: { ms: sides[1]!.ms, cpuMs: sides[1]!.cpu, peakRss: sides[1]!.peak },
      ratioOfMedians: A!.time.median_ms / B!.time.median_ms,
    }, null, 2));
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}
