// The fused logit lens of gpu/lens.ts on the CPU, in WebAssembly SIMD (lens-wasm.wat),
// for the CPU adapters: SwiftShader's compute shaders top out at ~11 GFLOP/s on this
// project's 2-core machine and lavapipe's lens kernel gets ~26 a core, where one core
// of WebAssembly computes the lens's products at ~49 (bench/RESULTS.md, issue 28, 12).
// The rows are shared with a worker (lens-thread.ts), each thread folding its own
// (lens-core.ts); the embedding streams back from the device a chunk at a time, the
// next chunk's copy running while this one is computed. Same result words as lens(),
// so decodeLens reads both; the logits, and so the lists and ranks, are the lens
// kernel's bits; the log-sum-exp is summed in another order, with another exp, so
// probabilities differ from the kernel's in their last bits.
import type { Kernels } from '../gpu/kernels.ts';
import { withMapped } from '../gpu/buffers.ts';
import { checkLens, resultWords } from '../gpu/lens.ts';
import { gentleWait } from '../gpu/wait.ts';
import { bf16ToF32, f16ToF32 } from '../half.ts';
import { elementBytes, type Block, type Tensor } from '../tensor.ts';
import { lensCore, type CoreSetup } from './lens-core.ts';
import { LensThread } from './lens-thread.ts';
import binary from './lens-wasm.wat';

/** Ids per block of lens-wasm.wat's `logits`. */
const IDS = 8;
/**
 * Embedding bytes per chunk. A chunk is held five times over (two staging buffers, each
 * thread's packed blocks, the buffer it travels to the worker in): 512 KiB measured as
 * fast as 1 MiB and 4 MiB and kept `analyze`'s peak 2.5 MB lower; 256 KiB was slower
 * (bench/RESULTS.md, issue 28, 12).
 */
const CHUNK_BYTES = 1 << 19;
/**
 * Less work (multiply-adds) stays on the calling thread: a worker takes ~20 ms to start,
 * half of ~1e9 of them at ~25 G a second (bench/RESULTS.md, issue 28, 12).
 */
const MIN_SHARED_WORK = 1e9;

let compiled: WebAssembly.Module | undefined;
let f16Table: Float32Array | undefined;

/**
 * Whether the lens runs here rather than in the lens kernel: on the CPU adapters, for
 * an unembedding of at least 2^23 weights (gpt2-small's has 38.6M). There WebAssembly
 * is faster (bench/RESULTS.md, issue 28, 12); below it a call's work is too small for
 * the worker to pay for itself, and the kernel's two threads win (the default model's
 * study: 2,900 records a minute against 2,340). By the model, not the rows, so a row's
 * bits never depend on what is projected with it.
 */
export const lensOnCpu = (k: Kernels, E: Tensor): boolean => k.gpu.software && E.size >= 2 ** 23;

/**
 * lens() of gpu/lens.ts computed here: h [R, d] against the unembedding E [V, d], to
 * the result words [R, 1 + 4k + 2W] that decodeLens unpacks. h is read mapped, straight
 * into the threads' memories; `release` then runs, before the embedding streams, so a
 * caller can free h's device copies first. `chunkBytes` sizes the embedding's chunks
 * (tests ask for small ones).
 */
export async function lensWasm(k: Kernels, h: Tensor, E: Tensor, count: number, watched: readonly number[], skip: readonly number[] = [], opts: { chunkBytes?: number; release?: () => void } = {}): Promise<Float32Array> {
  checkLens(h.cols, E, count, watched, skip);
  const [, d] = E.shape as [number, number];
  const R = h.rows;
  const W = watched.length;
  const result = new Float32Array(R * resultWords(count, W));
  if (R === 0) return result;
  // Their copies complete with h's read below: one wait for both.
  const watchedRows = W ? embeddingRows(k, E, watched) : Promise.resolve([]);
  watchedRows.catch(() => undefined);
  const C = Math.max(IDS, Math.floor((opts.chunkBytes ?? CHUNK_BYTES) / (d * elementBytes(E.dtype)) / IDS) * IDS);
  // Rows [0, split) here, the rest in the worker: each row's result is computed alike on
  // either thread, so the bits do not depend on the split.
  const helper = R * d * E.rows >= MIN_SHARED_WORK && R >= 8 ? LensThread.start() : undefined;
  const split = helper ? Math.ceil(R / 2 / 4) * 4 : R;
  compiled ??= new WebAssembly.Module(binary);
  const module = compiled;
  // The chunk in the worker's hands, in a buffer that comes back for the next one.
  let inFlight: Promise<Float32Array> | undefined;
  try {
    const local = await withMapped(k, [h], async ([rows]) => {
      const logits = watchedLogits(await watchedRows, rows!, R, d);
      // The local core copies its rows into its own memory; the worker's are copied once, to move there.
      const part = (from: number, to: number, view: (a: Float32Array, from: number, to: number) => Float32Array): CoreSetup =>
        ({ R: to - from, d, C, count, watched, watchedLogits: view(logits, from * W, to * W), h: view(rows!, from * d, to * d) });
      helper?.setup(module, part(split, R, (a, from, to) => a.slice(from, to)));
      return lensCore(module, part(0, split, (a, from, to) => a.subarray(from, to)));
    });
    opts.release?.();
    let skipAt = 0;
    for await (const { id0, n, pack } of embeddingChunks(k, E, C)) {
      const skipEnd = skipAt + countBelow(skip, skipAt, id0 + n);
      const skipped = Int32Array.from(skip.slice(skipAt, skipEnd), (id) => id - id0);
      skipAt = skipEnd;
      pack(local.packed());
      if (helper) {
        const data = inFlight ? await inFlight : new Float32Array(C * d);
        data.set(local.packed());
        inFlight = helper.chunk(id0, n, data, skipped);
      }
      local.chunk(id0, n, skipped);
    }
    result.set(local.result());
    if (helper) {
      await inFlight;
      result.set(await helper.result(), split * resultWords(count, W));
    }
  } finally {
    await inFlight?.catch(() => undefined);
    helper?.end();
  }
  return result;
}

/**
 * Rows `ids` of E (f32, or a packed 16-bit tensor widened). The copies are recorded and
 * submitted now, to complete with whatever is waited on next; then one mapping.
 */
function embeddingRows(k: Kernels, E: Tensor, ids: readonly number[]): Promise<Float32Array[]> {
  const d = E.cols;
  const eb = elementBytes(E.dtype);
  // Copies start and end on whole words; a 16-bit row may not: each slot is the row's words.
  const slots = ids.map((id) => {
    const b = E.blocks.find((x) => id >= x.row0 && id < x.row0 + x.rows)!;
    const from = (id - b.row0) * d * eb;
    const start = from - (from % 4);
    return { b, from, start, size: Math.ceil((from + d * eb) / 4) * 4 - start };
  });
  const at = slots.map((_, i) => slots.slice(0, i).reduce((n, s) => n + s.size, 0));
  const staging = k.device.createBuffer({ label: 'lens rows', size: Math.max(4, at.at(-1)! + slots.at(-1)!.size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  slots.forEach((s, i) => k.copy(s.b.buffer, s.start, staging, at[i]!, s.size));
  k.submit();
  return (async () => {
    try {
      await gentleWait(() => staging.mapAsync(GPUMapMode.READ));
      const all = new Uint8Array(staging.getMappedRange());
      return slots.map((s, i) => {
        const bytes = all.slice(at[i]! + s.from - s.start, at[i]! + s.from - s.start + d * eb);
        if (E.dtype === 'f32') return new Float32Array(bytes.buffer);
        const bits = new Uint16Array(bytes.buffer);
        return E.dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits);
      });
    } finally {
      staging.destroy();
    }
  })();
}

/**
 * Each row's logit of each watched id, [R, W], summed as lens-wasm.wat sums it: a
 * multiply rounded to f32, then an add rounded to f32, k in order (a double's
 * rounding to f32 of a sum or product of two f32 is the f32 operation's).
 */
function watchedLogits(rows: readonly Float32Array[], h: Float32Array, R: number, d: number): Float32Array {
  const W = rows.length;
  const out = new Float32Array(R * W);
  rows.forEach((e, w) => {
    for (let r = 0; r < R; r++) {
      let acc = 0;
      for (let j = 0, at = r * d; j < d; j++) acc = Math.fround(acc + Math.fround(h[at + j]! * e[j]!));
      out[r * W + w] = acc;
    }
  });
  return out;
}

interface Chunk {
  /** Its first id and how many. */
  id0: number;
  n: number;
  /** Writes the chunk's rows into `into` as blocks of 8 ids, each k-major [d][8]. */
  pack(into: Float32Array): void;
}

/**
 * E's rows C at a time, through two staging buffers: while one chunk is packed and
 * projected, the next one's copy runs.
 */
async function* embeddingChunks(k: Kernels, E: Tensor, C: number): AsyncGenerator<Chunk> {
  const d = E.cols;
  const eb = elementBytes(E.dtype);
  const ranges: { b: Block; c0: number; n: number }[] = [];
  for (const b of E.blocks) for (let c0 = 0; c0 < b.rows; c0 += C) ranges.push({ b, c0, n: Math.min(C, b.rows - c0) });
  // C is a multiple of 8, so a 16-bit chunk starts on a whole word.
  const bytes = (n: number) => Math.ceil((n * d * eb) / 4) * 4;
  const staging = [0, 1].map(() => k.device.createBuffer({ label: 'lens chunk', size: bytes(C), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
  const widened = E.dtype === 'f32' ? undefined : new Float32Array(C * d);
  const start = (i: number) => {
    const { b, c0, n } = ranges[i]!;
    k.copy(b.buffer, c0 * d * eb, staging[i % 2]!, 0, bytes(n));
    k.submit();
    const mapped = gentleWait(() => staging[i % 2]!.mapAsync(GPUMapMode.READ));
    // Left pending if the consumer stops early; its buffer is destroyed below.
    mapped.catch(() => undefined);
    return mapped;
  };
  try {
    let pending = start(0);
    for (let i = 0; i < ranges.length; i++) {
      await pending;
      if (i + 1 < ranges.length) pending = start(i + 1);
      const { b, c0, n } = ranges[i]!;
      const view = staging[i % 2]!.getMappedRange(0, bytes(n));
      yield { id0: b.row0 + c0, n, pack: (into) => packBlocks(rowsOf(view, E.dtype, n * d, widened), n, d, into) };
      staging[i % 2]!.unmap();
    }
  } finally {
    for (const s of staging) s.destroy();
  }
}

/** The chunk's n * d values as f32: the mapped range itself, or widened into `widened`. */
function rowsOf(view: ArrayBuffer, dtype: Tensor['dtype'], size: number, widened: Float32Array | undefined): Float32Array {
  if (!widened) return new Float32Array(view, 0, size);
  const bits = new Uint16Array(view, 0, size);
  if (dtype === 'bf16') {
    const out = new Uint32Array(widened.buffer, 0, size);
    for (let i = 0; i < size; i++) out[i] = bits[i]! << 16;
  } else {
    f16Table ??= f16ToF32(Uint16Array.from({ length: 65536 }, (_, i) => i));
    for (let i = 0; i < size; i++) widened[i] = f16Table[bits[i]!]!;
  }
  return widened;
}

/** Rows [n, d] into blocks of 8 ids, each k-major [d][8], as lens-wasm.wat's `logits` reads them. */
function packBlocks(rows: Float32Array, n: number, d: number, into: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const src = i * d;
    for (let j = 0, o = (i >> 3) * d * IDS + (i & 7); j < d; j++, o += IDS) into[o] = rows[src + j]!;
  }
}

/** How many of the ascending `ids` from index `from` on are below `end`. */
function countBelow(ids: readonly number[], from: number, end: number): number {
  let i = from;
  while (i < ids.length && ids[i]! < end) i++;
  return i - from;
}
