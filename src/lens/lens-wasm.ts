// The fused logit lens of gpu/lens.ts on the CPU, in WebAssembly SIMD (lens-wasm.wat),
// for SwiftShader: its compute shaders top out at ~11 GFLOP/s on this project's
// 2-core machine, where one core of WebAssembly computes the lens's products at ~49
// (bench/RESULTS.md, issue 28, 11). The embedding streams back from the device a
// chunk at a time, the next chunk's copy running while this one is computed. Same
// result words as lens(), so decodeLens reads both; the logits, and so the lists and
// ranks, are the lens kernel's bits; the log-sum-exp is summed in another order, with
// another exp, so probabilities differ from the kernel's in their last bits.
import { readAll } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { checkLens, resultWords } from '../gpu/lens.ts';
import { gentleWait } from '../gpu/wait.ts';
import { bf16ToF32, f16ToF32 } from '../half.ts';
import { elementBytes, type Block, type Tensor } from '../tensor.ts';
import binary from './lens-wasm.wat';

interface Exports {
  memory: WebAssembly.Memory;
  logits(hAt: number, rows: number, d: number, eAt: number, blocks: number, outAt: number, C: number): void;
  rowMax(at: number, n4: number): number;
  sumExp(at: number, n4: number, m: number): number;
  next(at: number, from: number, n: number, t: number, sign: number): number;
  counts(at: number, n4: number, t: number, outAt: number): void;
}

/** Rows of h in one tile of lens-wasm.wat's `logits`; ids per block. */
const TILE_ROWS = 4;
const IDS = 8;
/** Embedding bytes per chunk, as the texture lens reads them (gpu/quads-texture.ts). */
const CHUNK_BYTES = 4 << 20;
const PAGE = 65536;
/** kernels/lens.wgsl's LOWEST, as an f32. */
const LOWEST = Math.fround(-3.4e38);

let compiled: WebAssembly.Module | undefined;
let f16Table: Float32Array | undefined;

/** Whether `lens` runs here: on SwiftShader (the CPU adapter whose shaders are slower than WebAssembly). */
export const lensOnCpu = (k: Kernels): boolean => k.gpu.software && !/llvmpipe|lavapipe/i.test(k.gpu.adapterName);

/**
 * lens() of gpu/lens.ts computed here: h [R, d] against the unembedding E [V, d], read
 * back, to the result words [R, 1 + 4k + 2W] that decodeLens unpacks. `chunkBytes`
 * sizes the embedding's chunks (tests ask for small ones).
 */
export async function lensWasm(k: Kernels, h: Tensor, E: Tensor, count: number, watched: readonly number[], skip: readonly number[] = [], chunkBytes = CHUNK_BYTES): Promise<Float32Array> {
  checkLens(h, E, count, watched, skip);
  const [, d] = E.shape as [number, number];
  const R = h.rows;
  const W = watched.length;
  const words = resultWords(count, W);
  const result = new Float32Array(R * words);
  if (R === 0) return result;
  const [hData] = (await readAll(k, [h])) as Float32Array[];
  const C = Math.max(IDS, Math.floor(chunkBytes / (d * elementBytes(E.dtype)) / IDS) * IDS);
  const rows = Math.ceil(R / TILE_ROWS) * TILE_ROWS;
  // h [rows, d], the chunk's blocks [C / 8][d][8], its logits [rows, C], 4 words of counts, and
  // a vector's slack after the logits for `next`'s whole-vector reads.
  const eAt = rows * d * 4;
  const outAt = eAt + C * d * 4;
  const countsAt = outAt + rows * C * 4 + 16;
  const e = instance(countsAt + 16);
  new Float32Array(e.memory.buffer, 0, R * d).set(hData!);
  const lists = new Lists(R, count);
  const watchedLogit = await watchedLogits(k, E, watched, hData!, R);
  const above = new Int32Array(R * W);
  const below = new Int32Array(R * W);
  const max = new Float64Array(R).fill(-Infinity);
  const sum = new Float64Array(R);
  let skipAt = 0;

  for await (const { id0, n, pack } of embeddingChunks(k, E, C)) {
    const packed = new Float32Array(e.memory.buffer, eAt, C * d);
    pack(packed);
    e.logits(0, rows, d, eAt, Math.ceil(n / IDS), outAt, C);
    const logits = new Float32Array(e.memory.buffer, outAt, rows * C);
    const n4 = Math.ceil(n / 4);
    const skipEnd = skipAt + countBelow(skip, skipAt, id0 + n);
    const counts = new Int32Array(e.memory.buffer, countsAt, 3);
    for (let r = 0; r < R; r++) {
      const row = r * C;
      const at = outAt + row * 4;
      logits.fill(NaN, row + n, row + 4 * n4);
      const m = e.rowMax(at, n4);
      if (m > max[r]!) {
        sum[r] = sum[r]! * Math.exp(max[r]! - m);
        max[r] = m;
      }
      if (max[r]! > -Infinity) sum[r]! += e.sumExp(at, n4, max[r]!);
      // Skipped ids stay in the sum of exp; as NaN they enter no list and no count.
      for (let s = skipAt; s < skipEnd; s++) logits[row + skip[s]! - id0] = NaN;
      lists.scan(r, n, (from, t, sign) => e.next(at, from, n, t, sign), (i) => logits[row + i]!, id0);
      for (let w = 0; w < W; w++) {
        const v = watchedLogit[r * W + w]!;
        e.counts(at, n4, v, countsAt);
        let ties = 0;
        // A tie ranks above the watched id when its id is lower (gpu/vocab.ts's order).
        if (counts[2]! > 0) for (let i = 0; i < n && id0 + i < watched[w]!; i++) if (logits[row + i] === v) ties++;
        above[r * W + w]! += counts[0]! + ties;
        below[r * W + w]! += counts[1]! + ties;
      }
    }
    skipAt = skipEnd;
  }

  const ints = new Int32Array(result.buffer);
  for (let r = 0; r < R; r++) {
    const at = r * words;
    result[at] = max[r]! + Math.log(sum[r]!);
    lists.write(r, result, ints, at + 1);
    ints.set(above.subarray(r * W, (r + 1) * W), at + 1 + 4 * count);
    ints.set(below.subarray(r * W, (r + 1) * W), at + 1 + 4 * count + W);
  }
  return result;
}

/** The instance, with at least `bytes` of memory: one per call, so its memory goes with it. */
function instance(bytes: number): Exports {
  compiled ??= new WebAssembly.Module(binary);
  const e = new WebAssembly.Instance(compiled).exports as unknown as Exports;
  const have = e.memory.buffer.byteLength;
  if (bytes > have) e.memory.grow(Math.ceil((bytes - have) / PAGE));
  return e;
}

/** Row `id` of E (f32, or a packed 16-bit tensor widened), read back alone. */
async function embeddingRow(k: Kernels, E: Tensor, id: number): Promise<Float32Array> {
  const d = E.cols;
  const eb = elementBytes(E.dtype);
  const b = E.blocks.find((x) => id >= x.row0 && id < x.row0 + x.rows)!;
  const from = (id - b.row0) * d * eb;
  // Copies start and end on whole words; a 16-bit row may not.
  const start = from - (from % 4);
  const size = Math.ceil((from + d * eb) / 4) * 4 - start;
  const staging = k.device.createBuffer({ label: 'lens row', size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    k.copy(b.buffer, start, staging, 0, size);
    await k.sync();
    await gentleWait(() => staging.mapAsync(GPUMapMode.READ));
    const bytes = new Uint8Array(staging.getMappedRange()).slice(from - start, from - start + d * eb);
    if (E.dtype === 'f32') return new Float32Array(bytes.buffer);
    const bits = new Uint16Array(bytes.buffer);
    return E.dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits);
  } finally {
    staging.destroy();
  }
}

/**
 * Each row's logit of each watched id, [R, W], summed as lens-wasm.wat sums it: a
 * multiply rounded to f32, then an add rounded to f32, k in order (a double's
 * rounding to f32 of a sum or product of two f32 is the f32 operation's).
 */
async function watchedLogits(k: Kernels, E: Tensor, watched: readonly number[], h: Float32Array, R: number): Promise<Float32Array> {
  const d = E.cols;
  const W = watched.length;
  const out = new Float32Array(R * W);
  for (const [w, id] of watched.entries()) {
    const e = await embeddingRow(k, E, id);
    for (let r = 0; r < R; r++) {
      let acc = 0;
      for (let j = 0, at = r * d; j < d; j++) acc = Math.fround(acc + Math.fround(h[at + j]! * e[j]!));
      out[r * W + w] = acc;
    }
  }
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

/**
 * Each row's top-k (largest logits first) and bottom-k (smallest first), ties to the
 * lower id: the ids arrive in ascending order, so a logit equal to the k-th never
 * displaces it.
 */
class Lists {
  private readonly scores: [Float32Array, Float32Array];
  private readonly ids: [Int32Array, Int32Array];
  private readonly filled: [Int32Array, Int32Array];

  constructor(
    R: number,
    private readonly k: number,
  ) {
    this.scores = [new Float32Array(R * k).fill(LOWEST), new Float32Array(R * k).fill(-LOWEST)];
    this.ids = [new Int32Array(R * k).fill(-1), new Int32Array(R * k).fill(-1)];
    this.filled = [new Int32Array(R), new Int32Array(R)];
  }

  /**
   * Offers row r's n logits of a chunk (ids id0 ..): next(from, t, sign) is the first
   * index from `from` whose logit is above t (sign 1) or below it (sign -1), or n. An
   * empty place's bound is lens.wgsl's LOWEST, so what its lists leave out is left out here.
   */
  scan(r: number, n: number, next: (from: number, t: number, sign: number) => number, logit: (i: number) => number, id0: number): void {
    const base = r * this.k;
    for (const [which, sign] of [[0, 1], [1, -1]] as const) {
      const scores = this.scores[which];
      const ids = this.ids[which];
      const filled = this.filled[which];
      const bound = () => (filled[r] === this.k ? scores[base + this.k - 1]! : sign * LOWEST);
      for (let i = next(0, bound(), sign); i < n; i = next(i + 1, bound(), sign)) {
        const v = logit(i);
        let at = Math.min(filled[r]!, this.k - 1);
        while (at > 0 && sign * scores[base + at - 1]! < sign * v) {
          scores[base + at] = scores[base + at - 1]!;
          ids[base + at] = ids[base + at - 1]!;
          at--;
        }
        scores[base + at] = v;
        ids[base + at] = id0 + i;
        if (filled[r]! < this.k) filled[r]!++;
      }
    }
  }

  /** Row r's lists as lens_merge writes them: top scores, top ids, bottom scores, bottom ids. */
  write(r: number, out: Float32Array, ints: Int32Array, at: number): void {
    const span = [r * this.k, (r + 1) * this.k] as const;
    out.set(this.scores[0].subarray(...span), at);
    ints.set(this.ids[0].subarray(...span), at + this.k);
    out.set(this.scores[1].subarray(...span), at + 2 * this.k);
    ints.set(this.ids[1].subarray(...span), at + 3 * this.k);
  }
}
