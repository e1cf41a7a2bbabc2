// The fastest any kernel can multiply and add on this adapter: a WGSL loop of
// independent vec4 multiply-adds with no memory access inside it. The lens and the
// matmuls also load their operands, so this rate bounds them from above; set beside a
// peer's GFLOP/s (bench/peer.ts) it says what a kernel rewrite could still win.
//   node dist/bench/alu-ceiling.js [--accumulators 4,8,16,32] [--iterations 20000] [--workgroups 64] [--rounds 3]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { readAll, zeros } from '../src/gpu/buffers.ts';
import { getEngine } from '../src/gpu/engine.ts';
import { timing } from './lib/stats.ts';

const HELP = `node dist/bench/alu-ceiling.js [options]
  --accumulators L  comma-separated counts of vec4 accumulators per invocation (default 4,8,16,32)
  --iterations N    loop trips per invocation (default 20000)
  --workgroups N    workgroups of 64 invocations (default 64)
  --rounds N        timed dispatches per count (default 3)
A multiply and an add count as 2 FLOP each, as in the lens's and the peer's GFLOP/s.`;

const { values } = parseArgs({
  options: {
    accumulators: { type: 'string', default: '4,8,16,32' }, iterations: { type: 'string', default: '20000' },
    workgroups: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const counts = values.accumulators!.split(',').map(Number);
const [iterations, workgroups, rounds] = [values.iterations, values.workgroups, values.rounds].map(Number) as [number, number, number];
const bad = [...counts, iterations, workgroups, rounds].some((n) => !Number.isInteger(n) || n < 1);
if (bad) {
  console.error(`every option takes positive integers\n\n${HELP}`);
  process.exit(2);
}

/** `n` accumulators updated in turn: independent chains, so the JIT may keep each in a register. */
function kernel(n: number): { file: string; code: string } {
  const ids = Array.from({ length: n }, (_, i) => i);
  return {
    file: `alu-ceiling-${n}.wgsl`,
    code: `struct P { trips: u32, a: u32, b: u32, c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${ids.map((i) => `var a${i} = vec4<f32>(f32(gid.x) * 1e-9 + ${i}.0e-3);`).join('\n  ')}
  let m = vec4<f32>(0.999);
  let c = vec4<f32>(1e-4);
  for (var t = 0u; t < p.trips; t++) {
    ${ids.map((i) => `a${i} = a${i} * m + c;`).join('\n    ')}
  }
  out[gid.x] = ${ids.map((i) => `a${i}`).join(' + ')};
}`,
  };
}

const k = await getEngine();
const out = zeros(k, [workgroups * 64 * 4], 'f32', 'alu-ceiling.out');
console.log(`${k.gpu.adapterName}: ${workgroups} x 64 invocations, ${iterations} trips, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const n of counts) {
  const src = kernel(n);
  k.register([src]);
  // The first dispatch compiles (lavapipe JIT-compiles at first use): untimed.
  k.dispatch(src, 'main', [1, 0, 0, 0], [out.buffer], [workgroups]);
  await readAll(k, [out]);
  const runs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    k.dispatch(src, 'main', [iterations, 0, 0, 0], [out.buffer], [workgroups]);
    await readAll(k, [out]);
    runs.push(performance.now() - t0);
  }
  const t = timing(runs);
  const flop = workgroups * 64 * iterations * n * 4 * 2;
  console.log(`${String(n).padStart(3)} vec4 accumulators: median ${t.median_ms.toFixed(0)} ms (min ${t.min_ms.toFixed(0)}, max ${t.max_ms.toFixed(0)}), ${(flop / t.median_ms / 1e6).toFixed(1)} GFLOP/s`);
}
console.log(`load after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
