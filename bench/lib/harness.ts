// Timing machinery shared by the Node and browser benches: no Node imports.
// A rep is a batch of calls ended by one GPU sync, because one dispatch can be
// shorter than the timer's resolution; the per-call time is the rep's time over
// the batch size. While a wait is pending, dawn-node spins the main thread on
// most of a core, which on a 2-core machine slows SwiftShader 1.3-1.7x: so a rep
// submits, sleeps through most of the time the previous rep took, and only then
// waits. The kernels are timed, not the host's way of waiting (--spin times that).

import { timing } from './stats.ts';

export type Impl = 'backward-lens' | 'tfjs-webgpu';

export interface Bench {
  name: string;
  /** Human-readable sizes, e.g. "16x768x3072" (M x K x N for matmuls). */
  shape: string;
  impl: Impl;
  /** Floating-point operations of one call (reported as GFLOP/s) ... */
  flops?: number;
  /** ... or bytes it must move at least (reported as GB/s). */
  bytes?: number;
  /** Records one call without waiting. */
  run(): void;
  /** Sends what was recorded to the GPU without waiting. */
  submit(): void;
  /** Waits until everything recorded so far has finished on the GPU. */
  sync(): Promise<void>;
  /** Runs after each rep: frees what the rep's calls allocated. */
  afterRep?(): void;
  /** Caps the reps of slow cases (1024^3 is 2 GFLOP, seconds on a CPU). */
  maxReps?: number;
}

export type Calls = Pick<Bench, 'run' | 'submit' | 'sync' | 'afterRep'> & { dispose(): void };

/** A bench whose buffers are made only when it runs, so large cases exist one at a time. */
export interface Case extends Omit<Bench, keyof Calls> {
  create(): Calls;
}

export interface Result {
  name: string;
  shape: string;
  impl: Impl;
  adapter: string;
  /** Per call. */
  median_ms: number;
  spread: { min_ms: number; max_ms: number };
  reps: number;
  /** Calls per rep. */
  batch: number;
  gflops?: number;
  gbps?: number;
  /** Share of what the roofline allows at this kernel's arithmetic intensity. */
  roof_pct?: number;
}

export interface Options {
  reps: number;
  warmup: number;
  /** A rep is grown to at least this long so the sync and timer are small against it. */
  minRepMs: number;
  /** Beyond this the batch stops growing: the engine submits every 512 dispatches anyway. */
  maxBatch: number;
  /** Share of the previous rep's time to sleep before waiting; 0 waits at once, as the engine does. */
  sleepBeforeSync: number;
}

export const DEFAULTS: Options = { reps: 15, warmup: 2, minRepMs: 50, maxBatch: 64, sleepBeforeSync: 0.8 };

/** Peaks measured on the 2-core AMD EPYC these benches were written on (see DESIGN.md). */
export interface Roofline {
  gflops: number;
  gbps: number;
  what: string;
}

export const ROOFLINE: Roofline = { gflops: 232, gbps: 30, what: 'the 2-core AMD EPYC behind SwiftShader: fp32 FMA peak, memory read' };

/** Runs the cases one after another (the order interleaves ours and tfjs's), reporting as it goes. */
export async function measureAll(cases: readonly Case[], adapter: string, opts: Options, roofline: Roofline | undefined, report: (r: Result) => void): Promise<Result[]> {
  const results: Result[] = [];
  for (const c of cases) {
    const calls = c.create();
    try {
      const r = await measure({ ...c, ...calls }, adapter, opts, roofline);
      report(r);
      results.push(r);
    } finally {
      calls.dispose();
    }
  }
  return results;
}

/** Times one rep; sleepMs > 0 lets the GPU work before the wait starts spinning. */
async function timeRep(b: Bench, batch: number, sleepMs = 0): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < batch; i++) b.run();
  b.submit();
  if (sleepMs > 0) await new Promise((ok) => setTimeout(ok, sleepMs));
  await b.sync();
  const ms = performance.now() - t0;
  b.afterRep?.();
  return ms;
}



export async function measure(b: Bench, adapter: string, opts: Options = DEFAULTS, roofline?: Roofline): Promise<Result> {
  // The first call pays for pipeline creation and first-touch allocation. A second
  // gives the real time, unless the first was so long that compiling is lost in it.
  const first = await timeRep(b, 1);
  const single = first < 1000 ? await timeRep(b, 1) : first;
  const batch = Math.max(1, Math.min(opts.maxBatch, Math.ceil(opts.minRepMs / Math.max(single, 1e-3))));
  let last = single * batch;
  const sleep = () => opts.sleepBeforeSync * last;
  if (single < opts.minRepMs) for (let i = 0; i < opts.warmup; i++) last = await timeRep(b, batch, sleep());
  const reps = Math.max(1, Math.min(opts.reps, b.maxReps ?? Infinity));
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    // A sleep that outlasted the work lengthens this rep; the next sleeps 80 % of it, so it converges.
    last = await timeRep(b, batch, sleep());
    times.push(last / batch);
  }
  times.sort((x, y) => x - y);
  const median = timing(times).median_ms;
  const r: Result = {
    name: b.name, shape: b.shape, impl: b.impl, adapter,
    median_ms: median, spread: { min_ms: times[0]!, max_ms: times[times.length - 1]! }, reps, batch,
  };
  if (b.flops) r.gflops = b.flops / median / 1e6;
  if (b.bytes) r.gbps = b.bytes / median / 1e6;
  if (roofline) {
    // Attainable time is bounded by both compute and memory; compare with the larger bound.
    const bound = Math.max((b.flops ?? 0) / roofline.gflops, (b.bytes ?? 0) / roofline.gbps) / 1e6;
    if (bound > 0) r.roof_pct = (100 * bound) / median;
  }
  return r;
}

const fmt = (v: number | undefined, digits = 2): string => (v === undefined ? '' : v.toFixed(digits));
/** Milliseconds to about four significant digits: runs span 0.3 ms to 100 s. */
const ms = (v: number | undefined): string => (v === undefined ? '' : v.toFixed(v < 10 ? 3 : v < 1000 ? 1 : 0));

/** One row per shape with our number and tfjs's side by side. */
export function table(results: readonly Result[]): string {
  const keys = [...new Set(results.map((r) => `${r.name}\u0000${r.shape}`))];
  const rows = keys.map((key) => {
    const [name, shape] = key.split('\u0000') as [string, string];
    const of = (impl: Impl) => results.find((r) => r.name === name && r.shape === shape && r.impl === impl);
    const ours = of('backward-lens');
    const tf = of('tfjs-webgpu');
    const unit = (r?: Result) => (r?.gflops !== undefined ? 'GFLOP/s' : r?.gbps !== undefined ? 'GB/s' : '');
    const rate = (r?: Result) => fmt(r?.gflops ?? r?.gbps);
    const range = (r?: Result) => (r ? `${ms(r.spread.min_ms)}-${ms(r.spread.max_ms)}` : '');
    return [name, shape, unit(ours ?? tf), ms(ours?.median_ms), range(ours), rate(ours), fmt(ours?.roof_pct, 1),
      ms(tf?.median_ms), range(tf), rate(tf), ours && tf ? fmt(tf.median_ms / ours.median_ms, 1) : ''];
  });
  const head = ['kernel', 'shape', 'unit', 'ours ms', 'ours min-max', 'ours rate', 'roof %', 'tfjs ms', 'tfjs min-max', 'tfjs rate', 'ours x faster'];
  const all = [head, ...rows];
  const width = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(width[c]!)).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** A progress line, printed as each case finishes. */
export function resultLine(r: Result): string {
  const rate = r.gflops !== undefined ? `${fmt(r.gflops)} GFLOP/s` : `${fmt(r.gbps)} GB/s`;
  return `  ${r.impl.padEnd(13)} ${r.name} ${r.shape}: ${ms(r.median_ms)} ms, ${rate}`;
}

export function rooflineLine(r: Roofline): string {
  return `roofline: ${r.gflops} GFLOP/s, ${r.gbps} GB/s (${r.what})`;
}
