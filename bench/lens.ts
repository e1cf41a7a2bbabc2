// The fused logit lens alone (src/gpu/lens.ts, kernels/lens.wgsl; 'wasm': the CPU's,
// src/lens/lens-wasm.ts), its layouts alternated in one process so that a shared machine's load falls on each alike:
// rows of h against a random [V, d] unembedding, top-k 10, 8 watched ids.
//   node dist/bench/lens.js [--rows 240] [--d 768] [--vocab 50257] [--dtype f32|f16|bf16] [--rounds 5] [--layouts buffer,texture]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { upload } from '../src/gpu/buffers.ts';
import { getEngine } from '../src/gpu/engine.ts';
import { lens, type LensLayout } from '../src/gpu/lens.ts';
import { f32ToBf16, f32ToF16 } from '../src/half.ts';
import { lensWasm } from '../src/lens/lens-wasm.ts';
import { wallAndCpu } from './lib/cpu-time.ts';
import { timing } from './lib/stats.ts';

const HELP = `node dist/bench/lens.js [options]
  --rows N       rows of h per call (default 240; analyze of gpt2-small at 16 tokens projects 960 in one call)
  --d N          width (default 768)
  --vocab N      ids (default 50257)
  --dtype T      f32, f16 or bf16 unembedding (default f32)
  --rounds N     timed rounds; each runs every layout once, in turn (default 5)
  --layouts L    comma-separated, from buffer,texture,texture-rows,wasm (default buffer,texture)`;

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '240' }, d: { type: 'string', default: '768' }, vocab: { type: 'string', default: '50257' },
    dtype: { type: 'string', default: 'f32' }, rounds: { type: 'string', default: '5' }, layouts: { type: 'string', default: 'buffer,texture' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const [R, d, V, rounds] = [values.rows, values.d, values.vocab, values.rounds].map(Number) as [number, number, number, number];
type Form = LensLayout | 'wasm';
const layouts = values.layouts!.split(',') as Form[];
const dtype = values.dtype!;
const bad = ([['--rows', R], ['--d', d], ['--vocab', V], ['--rounds', rounds]] as const).find(([, n]) => !Number.isInteger(n) || n < 1);
const problem = bad ? `${bad[0]} ${bad[1]}: expected a positive integer`
  : !['f32', 'f16', 'bf16'].includes(dtype) ? `--dtype ${dtype}: expected f32, f16 or bf16`
  : !layouts.every((l) => ['buffer', 'texture', 'texture-rows', 'wasm'].includes(l)) ? `--layouts ${values.layouts}: expected some of buffer, texture, texture-rows, wasm, comma-separated`
  : undefined;
if (problem) {
  console.error(`${problem}\n\n${HELP}`);
  process.exit(2);
}

const k = await getEngine();
let seed = 1;
const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.2);
const h = upload(k, [R, d], rand(R * d));
const e = rand(V * d);
const E = dtype === 'f32' ? upload(k, [V, d], e) : upload(k, [V, d], (dtype === 'f16' ? f32ToF16 : f32ToBf16)(e), dtype as 'f16' | 'bf16');
const watched = [0, 1, 2, 3, 4, 5, 6, V - 1];

/** Wall and CPU milliseconds of one call. */
async function once(layout: Form): Promise<[number, number]> {
  const { wall, cpu } = await wallAndCpu(async () => {
    if (layout === 'wasm') return void (await lensWasm(k, h, E, 10, watched));
    const out = lens(k, h, E, 10, watched, [], layout);
    await k.sync();
    out.dispose();
  });
  return [wall, cpu];
}

console.log(`${k.gpu.adapterName}: lens of ${R} rows x d ${d} x V ${V} (${dtype}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
// The first call also compiles the pipeline (lavapipe keeps a disk cache: MESA_SHADER_CACHE_DISABLE=true times a cold compile).
for (const l of layouts) {
  const [wall, cpu] = await once(l);
  console.log(`${l.padEnd(8)} first call, compile included: wall ${wall.toFixed(0)} ms, CPU ${cpu.toFixed(0)} ms`);
}
const times = new Map<Form, [number, number][]>(layouts.map((l) => [l, []]));
for (let r = 0; r < rounds; r++) for (const l of layouts) times.get(l)!.push(await once(l));
const flop = 2 * R * d * V;
for (const [l, runs] of times) {
  const t = timing(runs.map(([wall]) => wall));
  const cpu = timing(runs.map(([, c]) => c));
  console.log(`${l.padEnd(8)} wall median ${t.median_ms.toFixed(0)} ms (min ${t.min_ms.toFixed(0)}, max ${t.max_ms.toFixed(0)}) ${(flop / t.median_ms / 1e6).toFixed(1)} GFLOP/s; CPU median ${cpu.median_ms.toFixed(0)} ms (min ${cpu.min_ms.toFixed(0)}, max ${cpu.max_ms.toFixed(0)})`);
}
console.log(`load after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
