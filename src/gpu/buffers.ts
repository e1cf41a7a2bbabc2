// Allocation, upload and readback. Readbacks are explicit and batched: one submit
// and one wait for any number of tensors. A tensor larger than the device's
// binding limit (Kernels.bindLimit) is allocated as blocks of whole rows.
import { bf16ToF32, f16ToF32 } from '../half.ts';
import { elementBytes, Tensor, type Block, type DType } from '../tensor.ts';
import type { Kernels } from './kernels.ts';
import { gentleWait } from './wait.ts';

// Read at call time: in Node the GPU globals exist only after getGpu().
const usage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function count(shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad tensor shape [${shape.join(', ')}]`);
  return n;
}

/** WebGPU rejects zero-sized bindings; 16-byte multiples also keep vec4 views legal. */
function byteSize(elements: number, dtype: DType): number {
  return Math.max(16, Math.ceil((elements * elementBytes(dtype)) / 16) * 16);
}

/** Row ranges of a tensor of this shape, each small enough for one storage binding. */
export function blockRows(k: Kernels, shape: readonly number[], dtype: DType = 'f32'): { row0: number; rows: number }[] {
  const n = count(shape);
  const cols = shape[shape.length - 1] ?? 1;
  const rows = cols > 0 ? n / cols : 0;
  if (byteSize(n, dtype) <= k.bindLimit || rows <= 1) return [{ row0: 0, rows }];
  // Blocks of a packed tensor hold an even number of values, except maybe the last,
  // so every block but the last fills whole words (rows of odd length included).
  const rowBytes = cols * elementBytes(dtype);
  let per = Math.floor(k.bindLimit / rowBytes);
  if (elementBytes(dtype) === 2 && cols % 2 === 1) per -= per % 2;
  if (per < 1) throw new RangeError(`a row of ${cols} ${dtype} values is larger than one storage binding (${k.bindLimit} bytes)`);
  const out = [];
  for (let row0 = 0; row0 < rows; row0 += per) out.push({ row0, rows: Math.min(per, rows - row0) });
  return out;
}

function allocate(k: Kernels, shape: readonly number[], dtype: DType, name: string, mapped: boolean): Block[] {
  const cols = shape[shape.length - 1] ?? 1;
  const ranges = blockRows(k, shape, dtype);
  const whole = ranges.length === 1;
  return ranges.map(({ row0, rows }) => ({
    buffer: k.device.createBuffer({ label: whole ? name : `${name}[${row0}:${row0 + rows}]`, size: byteSize(whole ? count(shape) : rows * cols, dtype), usage: usage(), mappedAtCreation: mapped }),
    row0,
    rows,
  }));
}

const tensor = (k: Kernels, blocks: Block[], shape: readonly number[], dtype: DType, name: string) =>
  new Tensor(blocks.length === 1 ? blocks[0]!.buffer : blocks, [...shape], dtype, (b) => k.release(b), name);

/** Elements of block `b` of a tensor with `blocks`, the tensor having n elements of which cols per row. */
const blockSize = (b: Block, blocks: readonly Block[], n: number, cols: number) => (blocks.length === 1 ? n : b.rows * cols);

/** A zero-filled tensor (WebGPU zero-initialises new buffers). */
export function zeros(k: Kernels, shape: readonly number[], dtype: DType = 'f32', name = ''): Tensor {
  return tensor(k, allocate(k, shape, dtype, name, false), shape, dtype, name);
}

/**
 * Uploads through buffers mapped at creation, so it never races recorded work on a
 * reused buffer. A packed dtype takes the 16-bit patterns (a Uint16Array).
 */
export function upload(k: Kernels, shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'f32', name = ''): Tensor {
  const n = count(shape);
  if (data.length !== n) throw new RangeError(`${name || 'tensor'}: ${data.length} values for shape [${shape.join(', ')}]`);
  if (elementBytes(dtype) === 2 && !(data instanceof Uint16Array)) throw new TypeError(`${name || 'tensor'}: ${dtype} data must be 16-bit patterns in a Uint16Array`);
  const cols = shape[shape.length - 1] ?? 1;
  const blocks = allocate(k, shape, dtype, name, true);
  for (const b of blocks) {
    const range = b.buffer.getMappedRange();
    const view = dtype === 'f32' ? new Float32Array(range) : dtype === 'i32' ? new Int32Array(range) : new Uint16Array(range);
    const from = b.row0 * cols;
    const to = from + blockSize(b, blocks, n, cols);
    view.set(ArrayBuffer.isView(data) ? (data as unknown as Float32Array).subarray(from, to) : Array.prototype.slice.call(data, from, to));
    b.buffer.unmap();
  }
  return tensor(k, blocks, shape, dtype, name);
}

/**
 * A tensor's bytes, a chunk at a time: `read` fills one (`from` is its first byte
 * within the tensor); `check` vets it, run while the next chunk is being read.
 */
export interface ChunkSource {
  read(bytes: Uint8Array, from: number): Promise<void>;
  check?(bytes: Uint8Array, from: number): void;
}

/** A staging buffer and its mapped range while it is mapped (else its copy may still run). */
interface Stage {
  buffer: GPUBuffer;
  range: ArrayBuffer | null;
}

/** One chunk of a tensor: bytes [at, at + len) of block `block`, byte `from` of the tensor. */
interface Piece {
  block: number;
  at: number;
  len: number;
  from: number;
}

/** Copies move whole words: a packed tensor of odd length ends in half a zero word. */
const words = (len: number) => Math.ceil(len / 4) * 4;

/**
 * Uploads weights through a few reused staging buffers, as a pipeline: the file is
 * read into one while the chunk before it is checked and the device copies the ones
 * before that into place, and a tensor's first chunk is read while its device
 * buffers are created (SwiftShader zeroes their memory then). Mapping each weight's
 * own buffer at creation made Dawn allocate (and the system fault in) a staging copy
 * of the whole checkpoint; these few are mapped again and again. Bytes go in the
 * file's own dtype, with no host copy in between.
 */
export class StagedUploads {
  /** Staging buffers, next to use first. */
  private readonly ring: Stage[];

  /** `count` ≥ 3 lets a read, a check and a copy run at once. */
  constructor(private readonly k: Kernels, private readonly chunk = 2 << 20, count = 3) {
    this.ring = Array.from({ length: count }, () => {
      const buffer = k.device.createBuffer({ label: 'upload staging', size: chunk, usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
      return { buffer, range: buffer.getMappedRange() };
    });
  }

  /** A tensor whose bytes `source` gives, a chunk at a time, so not even a large one is staged whole on the host. */
  async tensor(shape: readonly number[], source: ChunkSource, name = '', dtype: DType = 'f32'): Promise<Tensor> {
    const n = count(shape);
    const cols = shape[shape.length - 1] ?? 1;
    const size = elementBytes(dtype);
    const ranges = blockRows(this.k, shape, dtype);
    const pieces: Piece[] = [];
    ranges.forEach((r, block) => {
      const bytes = (ranges.length === 1 ? n : r.rows * cols) * size;
      for (let at = 0; at < bytes; at += this.chunk) pieces.push({ block, at, len: Math.min(this.chunk, bytes - at), from: r.row0 * cols * size + at });
    });
    let blocks: Block[] = [];
    let read: { stage: Stage; piece: Piece } | null = null;
    try {
      for (const piece of pieces) {
        const stage = await this.next();
        const reading = source.read(new Uint8Array(stage.range!, 0, piece.len), piece.from);
        const before = read;
        await alongside(reading, () => {
          if (blocks.length === 0) blocks = allocate(this.k, shape, dtype, name, false);
          if (before) this.send(before.stage, before.piece, blocks, source);
        });
        read = { stage, piece };
      }
      if (blocks.length === 0) blocks = allocate(this.k, shape, dtype, name, false);
      if (read) this.send(read.stage, read.piece, blocks, source);
    } catch (e) {
      for (const b of blocks) b.buffer.destroy();
      throw e;
    }
    return tensor(this.k, blocks, shape, dtype, name);
  }

  /** The next staging buffer, mapped: waits for the copy from it, if one was sent. */
  private async next(): Promise<Stage> {
    const stage = this.ring.shift()!;
    this.ring.push(stage);
    if (!stage.range) {
      await gentleWait(() => stage.buffer.mapAsync(GPUMapMode.WRITE));
      stage.range = stage.buffer.getMappedRange();
    }
    return stage;
  }

  /** Checks a chunk that was read, then copies it into place. */
  private send(stage: Stage, piece: Piece, blocks: Block[], source: ChunkSource): void {
    const bytes = words(piece.len);
    const view = new Uint8Array(stage.range!, 0, bytes);
    source.check?.(view.subarray(0, piece.len), piece.from);
    view.fill(0, piece.len);
    stage.buffer.unmap();
    stage.range = null;
    this.k.copy(stage.buffer, 0, blocks[piece.block]!.buffer, piece.at, bytes);
    this.k.submit();
  }

  /** Frees the staging buffers once the copies from them are submitted. */
  dispose(): void {
    for (const { buffer } of this.ring) this.k.release(buffer);
  }
}

/** Runs `work` while `reading` fills a staging buffer; never leaves it filling when either fails (it is unmapped next). */
async function alongside(reading: Promise<void>, work: () => void): Promise<void> {
  try {
    work();
  } catch (e) {
    await reading.catch(() => undefined);
    throw e;
  }
  await reading;
}

/** The bytes of several tensors as stored on the device, with one submit and one wait. */
async function readBytes(k: Kernels, tensors: readonly Tensor[]): Promise<Uint8Array[]> {
  const staging = tensors.map((t) =>
    t.blocks.map((b) => {
      const bytes = blockSize(b, t.blocks, t.size, t.cols) * elementBytes(t.dtype);
      const s = k.device.createBuffer({ size: Math.max(4, words(bytes)), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      if (bytes > 0) k.copy(b.buffer, 0, s, 0, words(bytes));
      return { s, bytes, at: b.row0 * t.cols * elementBytes(t.dtype) };
    }),
  );
  await k.sync();
  await gentleWait(() => Promise.all(staging.flat().map(({ s }) => s.mapAsync(GPUMapMode.READ))));
  return staging.map((parts, i) => {
    // Rounded up to whole words so f32 and u16 views of it are legal.
    const bytes = new Uint8Array(words(tensors[i]!.bytes));
    for (const { s, bytes: n, at } of parts) {
      bytes.set(new Uint8Array(s.getMappedRange(), 0, n), at);
      s.unmap();
      s.destroy();
    }
    return bytes;
  });
}

/**
 * Hands `use` views of several f32 tensors as the device holds them, mapped instead
 * of copied to the host: one staging buffer and one wait, and no copies left for V8 to
 * collect (an analysis's readbacks left tens of MiB of them at its peak). The views
 * are valid only until `use` settles; then the staging buffer goes.
 */
export async function withMapped<T>(k: Kernels, tensors: readonly Tensor[], use: (views: Float32Array[]) => T | Promise<T>): Promise<T> {
  const starts: number[] = [];
  let size = 0;
  for (const t of tensors) {
    if (t.dtype !== 'f32') throw new TypeError(`${t.name || 'tensor'} is ${t.dtype}: only f32 tensors are read mapped`);
    starts.push(size);
    size += t.size * 4;
  }
  const staging = k.device.createBuffer({ label: 'mapped read', size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    tensors.forEach((t, i) => {
      for (const b of t.blocks) {
        const bytes = blockSize(b, t.blocks, t.size, t.cols) * 4;
        if (bytes > 0) k.copy(b.buffer, 0, staging, starts[i]! + b.row0 * t.cols * 4, bytes);
      }
    });
    await k.sync();
    await gentleWait(() => staging.mapAsync(GPUMapMode.READ));
    const range = staging.getMappedRange();
    return await use(tensors.map((t, i) => new Float32Array(range, starts[i]!, t.size)));
  } finally {
    staging.destroy();
  }
}

/** Reads several tensors with one submit and one wait; packed weights come back widened to f32. */
export async function readAll(k: Kernels, tensors: readonly Tensor[]): Promise<(Float32Array | Int32Array)[]> {
  const raw = await readBytes(k, tensors);
  return raw.map((bytes, i) => {
    const t = tensors[i]!;
    if (t.dtype === 'i32') return new Int32Array(bytes.buffer);
    if (t.dtype === 'f32') return new Float32Array(bytes.buffer);
    const bits = new Uint16Array(bytes.buffer, 0, t.size);
    return t.dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits);
  });
}

/** The 16-bit patterns of a packed tensor, as the checkpoint stored them. */
export async function readBits(k: Kernels, t: Tensor): Promise<Uint16Array> {
  if (!t.packed) throw new TypeError(`${t.name || 'tensor'} is ${t.dtype}, not a 16-bit float`);
  const [bytes] = await readBytes(k, [t]);
  return new Uint16Array(bytes!.buffer, 0, t.size);
}

export async function readF32(k: Kernels, t: Tensor): Promise<Float32Array> {
  if (t.dtype === 'i32') throw new TypeError(`${t.name || 'tensor'} is ${t.dtype}, not a float tensor`);
  return (await readAll(k, [t]))[0] as Float32Array;
}

export async function readI32(k: Kernels, t: Tensor): Promise<Int32Array> {
  if (t.dtype !== 'i32') throw new TypeError(`${t.name || 'tensor'} is ${t.dtype}, not i32`);
  return (await readAll(k, [t]))[0] as Int32Array;
}
