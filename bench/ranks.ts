// The gradient ranks alone (issue 28): rankOfProduct on every module of a `factors`
// export, as `analyze` runs it, without the GPU. Prints the time per module role and
// in all (CPU time of this thread: on a shared machine wall time mostly measures the
// others' load), and writes every result (rank, margin, ambiguous, singular values) as JSON,
// so that two builds can be checked to decide alike before they are timed.
//   node dist/bench/ranks.js --factors FILE.safetensors [--reps 3] [--json FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { rankOfProduct } from '../src/autograd/linalg.ts';
import { bytesSource, openSafetensors } from '../src/model/safetensors.ts';

const HELP = `node dist/bench/ranks.js --factors FILE [--reps N] [--json FILE]
Times the exact gradient rank (src/autograd/linalg.ts) of every module in a factors export.
  --factors FILE  written by \`backward-lens factors\` (h.{l}.{module}.x / .delta)
  --reps N        timed passes over all modules, the fastest reported (default 3)
  --json FILE     also write every module's result and the times as JSON`;

const { values } = parseArgs({ options: { factors: { type: 'string' }, reps: { type: 'string', default: '3' }, json: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help || !values.factors) {
  console.log(HELP);
  process.exit(values.help ? 0 : 2);
}

const file = await openSafetensors(bytesSource(values.factors, new Uint8Array(readFileSync(values.factors))));
const modules = await Promise.all(
  [...file.tensors.keys()].filter((name) => name.endsWith('.x')).map(async (name) => {
    const base = name.slice(0, -2);
    const x = await file.readF32(name);
    const delta = await file.readF32(`${base}.delta`);
    const [n, inDim] = file.tensors.get(name)!.shape as [number, number];
    return { name: base, role: base.replace(/^h\.\d+\./, ''), x, delta, n, inDim, outDim: file.tensors.get(`${base}.delta`)!.shape[1]! };
  }),
);

// The ranks run on this thread alone, so its CPU time is their work.
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const perRole = new Map<string, number>();
let best = Infinity;
let results: ReturnType<typeof rankOfProduct>[] = [];
for (let rep = 0; rep < Number(values.reps); rep++) {
  const times = new Map<string, number>();
  const t0 = cpuMs();
  results = modules.map((m) => {
    const t = cpuMs();
    const r = rankOfProduct(m.x, m.delta, m.n, m.inDim, m.outDim);
    times.set(m.role, (times.get(m.role) ?? 0) + cpuMs() - t);
    return r;
  });
  const total = cpuMs() - t0;
  if (total < best) {
    best = total;
    perRole.clear();
    times.forEach((v, k) => perRole.set(k, v));
  }
}
const n = modules[0]?.n ?? 0;
console.log(`${modules.length} modules, ${n} tokens: ranks ${best.toFixed(0)} ms of CPU (fastest of ${values.reps}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
perRole.forEach((ms, role) => console.log(`  ${role.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms`));
if (values.json) {
  const out = modules.map((m, i) => ({ module: m.name, rank: results[i]!.rank, margin: results[i]!.margin, ambiguous: results[i]!.ambiguous, singularValues: Array.from(results[i]!.singularValues) }));
  writeFileSync(values.json, JSON.stringify({ tokens: n, ms: best, perRole: Object.fromEntries(perRole), loadavg: loadavg(), results: out }, (_, v) => (v === Infinity ? 'Infinity' : v)));
}
