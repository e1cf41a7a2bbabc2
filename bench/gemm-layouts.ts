// The pass's skinny products (gpt2-small at 16 tokens: the forward's x W and the
// backward's dx = Delta W^T of each module) through gemm with A read from a buffer and
// from a texture (src/gpu/gemm.ts GemmLayout), alternated in one process so both see
// the same machine load. Each call reads a weight of its own, as the pass streams
// every weight once, and each is timed by the process's CPU time (user + system,
// the adapter's threads included) as well as the wall clock.
//   node dist/bench/gemm-layouts.js [--calls N] [--rounds N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { upload, zeros } from '../src/gpu/buffers.ts';
import { getEngine } from '../src/gpu/engine.ts';
import { gemm, type GemmLayout } from '../src/gpu/gemm.ts';
import { wallAndCpu } from './lib/cpu-time.ts';
import { MATMULS } from './lib/suite.ts';
import { timing } from './lib/stats.ts';

const HELP = `node dist/bench/gemm-layouts.js [--calls N] [--rounds N] [--json FILE]
CPU time per call of the pass's matmul shapes, A from a buffer against A from a texture.
  --calls N    calls per timing, each on a weight of its own, up to 200 MB of them (default 30)
  --rounds N   alternations of the two layouts per shape (default 3)
  --json FILE  also write the results as JSON
B-transposed shapes take matmul_texture with 'texture'; the others run matmul either way.`;

const { values } = parseArgs({ options: { calls: { type: 'string', default: '30' }, rounds: { type: 'string', default: '3' }, json: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const calls = Number(values.calls);
const rounds = Number(values.rounds);
if (!Number.isInteger(calls) || calls < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(`--calls and --rounds take positive whole numbers\n\n${HELP}`);
  process.exit(2);
}

const k = await getEngine();
const LAYOUTS: GemmLayout[] = ['buffer', 'texture'];
const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.1);
const load = [loadavg()[0]!];
console.log(`adapter: ${k.gpu.adapterName}; ${calls} calls per timing, ${rounds} rounds`);
const results = [];
for (const { M, K, N, transB } of MATMULS.filter((m) => m.quick)) {
  const copies = Math.max(1, Math.min(calls, Math.floor(200e6 / (K * N * 4))));
  const A = upload(k, [M, K], wave(M * K));
  const Bs = Array.from({ length: copies }, () => upload(k, transB ? [N, K] : [K, N], wave(K * N)));
  const C = zeros(k, [M, N]);
  const run = (layout: GemmLayout) => {
    for (let i = 0; i < calls; i++) gemm(k, { A: A.buffer, B: Bs[i % copies]!.buffer, C: C.buffer, M, N, K, transB, layout });
  };
  const cpu: Record<GemmLayout, number[]> = { buffer: [], texture: [] };
  const wall: Record<GemmLayout, number[]> = { buffer: [], texture: [] };
  for (const layout of LAYOUTS) {
    run(layout); // pipelines, and the weights' first touch
    await k.sync();
  }
  for (let r = 0; r < rounds; r++) {
    for (const layout of LAYOUTS) {
      const t = await wallAndCpu(() => {
        run(layout);
        return k.sync();
      });
      cpu[layout].push(t.cpu / calls);
      wall[layout].push(t.wall / calls);
    }
  }
  const shape = `${M}x${K}x${N}${transB ? ' (B^T)' : ''}`;
  const t = (xs: number[]) => timing(xs).median_ms.toFixed(2);
  console.log(`${shape.padEnd(20)} CPU per call: buffer ${t(cpu.buffer)} ms, texture ${t(cpu.texture)} ms (${(timing(cpu.buffer).median_ms / timing(cpu.texture).median_ms).toFixed(2)}x); wall ${t(wall.buffer)} / ${t(wall.texture)} ms`);
  results.push({ shape, cpu: { buffer: timing(cpu.buffer), texture: timing(cpu.texture) }, wall: { buffer: timing(wall.buffer), texture: timing(wall.texture) } });
  [A, C, ...Bs].forEach((x) => x.dispose());
}
load.push(loadavg()[0]!);
console.log(`load average ${load.map((l) => l.toFixed(2)).join(' -> ')}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: k.gpu.adapterName, calls, rounds, load_average: load, results }, null, 2));
// Dawn keeps the event loop alive.
process.exit(0);
