// Allocation, upload and readback. Readbacks are explicit and batched: one submit
// and one wait for any number of tensors. A tensor larger than the device's
// binding limit (Kernels.bindLimit) is allocated as blocks of whole rows.
import { Tensor, type Block, type DType } from '../tensor.ts';
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
function byteSize(elements: number): number {
  return Math.max(16, Math.ceil((elements * 4) / 16) * 16);
}

/** Row ranges of a tensor of this shape, each small enough for one storage binding. */
export function blockRows(k: Kernels, shape: readonly number[]): { row0: number; rows: number }[] {
  const n = count(shape);
  const cols = shape[shape.length - 1] ?? 1;
  const rows = cols > 0 ? n / cols : 0;
  if (byteSize(n) <= k.bindLimit || rows <= 1) return [{ row0: 0, rows }];
  const per = Math.floor(k.bindLimit / (cols * 4));
  if (per < 1) throw new RangeError(`a row of ${cols} floats is larger than one storage binding (${k.bindLimit} bytes)`);
  const out = [];
  for (let row0 = 0; row0 < rows; row0 += per) out.push({ row0, rows: Math.min(per, rows - row0) });
  return out;
}

function allocate(k: Kernels, shape: readonly number[], name: string, mapped: boolean): Block[] {
  const cols = shape[shape.length - 1] ?? 1;
  const ranges = blockRows(k, shape);
  const whole = ranges.length === 1;
  return ranges.map(({ row0, rows }) => ({
    buffer: k.device.createBuffer({ label: whole ? name : `${name}[${row0}:${row0 + rows}]`, size: byteSize(whole ? count(shape) : rows * cols), usage: usage(), mappedAtCreation: mapped }),
    row0,
    rows,
  }));
}

const tensor = (k: Kernels, blocks: Block[], shape: readonly number[], dtype: DType, name: string) =>
  new Tensor(blocks.length === 1 ? blocks[0]!.buffer : blocks, [...shape], dtype, (b) => k.release(b), name);

/** A zero-filled tensor (WebGPU zero-initialises new buffers). */
export function zeros(k: Kernels, shape: readonly number[], dtype: DType = 'f32', name = ''): Tensor {
  return tensor(k, allocate(k, shape, name, false), shape, dtype, name);
}

/** Uploads through buffers mapped at creation, so it never races recorded work on a reused buffer. */
export function upload(k: Kernels, shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'f32', name = ''): Tensor {
  const n = count(shape);
  if (data.length !== n) throw new RangeError(`${name || 'tensor'}: ${data.length} values for shape [${shape.join(', ')}]`);
  const cols = shape[shape.length - 1] ?? 1;
  const blocks = allocate(k, shape, name, true);
  for (const b of blocks) {
    const view = dtype === 'f32' ? new Float32Array(b.buffer.getMappedRange()) : new Int32Array(b.buffer.getMappedRange());
    const from = b.row0 * cols;
    const to = blocks.length === 1 ? n : from + b.rows * cols;
    view.set(ArrayBuffer.isView(data) ? (data as unknown as Float32Array).subarray(from, to) : Array.prototype.slice.call(data, from, to));
    b.buffer.unmap();
  }
  return tensor(k, blocks, shape, dtype, name);
}

/**
 * A tensor whose bytes `fill` writes into its mapping: loads weights with no copy in
 * between. A split tensor is filled block by block, `from` being the block's first
 * byte within the tensor, so not even a large one is staged whole on the host.
 */
export async function uploadFrom(k: Kernels, shape: readonly number[], fill: (bytes: Uint8Array, from: number) => Promise<void>, name = ''): Promise<Tensor> {
  const n = count(shape);
  const rowBytes = (shape[shape.length - 1] ?? 1) * 4;
  const blocks = allocate(k, shape, name, true);
  try {
    for (const b of blocks) {
      const bytes = blocks.length === 1 ? n * 4 : b.rows * rowBytes;
      await fill(new Uint8Array(b.buffer.getMappedRange(), 0, bytes), b.row0 * rowBytes);
    }
  } catch (e) {
    for (const b of blocks) b.buffer.destroy();
    throw e;
  }
  for (const b of blocks) b.buffer.unmap();
  return tensor(k, blocks, shape, 'f32', name);
}

/** Reads several tensors with one submit and one wait. */
export async function readAll(k: Kernels, tensors: readonly Tensor[]): Promise<(Float32Array | Int32Array)[]> {
  const staging = tensors.map((t) =>
    t.blocks.map((b) => {
      const bytes = (t.split ? b.rows * t.cols : t.size) * 4;
      const s = k.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      if (bytes > 0) k.copy(b.buffer, 0, s, 0, bytes);
      return { s, bytes, at: b.row0 * t.cols * 4 };
    }),
  );
  await k.sync();
  await gentleWait(() => Promise.all(staging.flat().map(({ s }) => s.mapAsync(GPUMapMode.READ))));
  return staging.map((parts, i) => {
    const t = tensors[i]!;
    const bytes = new Uint8Array(t.size * 4);
    for (const { s, bytes: n, at } of parts) {
      bytes.set(new Uint8Array(s.getMappedRange(), 0, n), at);
      s.unmap();
      s.destroy();
    }
    return t.dtype === 'f32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
  });
}

export async function readF32(k: Kernels, t: Tensor): Promise<Float32Array> {
  if (t.dtype !== 'f32') throw new TypeError(`${t.name || 'tensor'} is ${t.dtype}, not f32`);
  return (await readAll(k, [t]))[0] as Float32Array;
}

export async function readI32(k: Kernels, t: Tensor): Promise<Int32Array> {
  if (t.dtype !== 'i32') throw new TypeError(`${t.name || 'tensor'} is ${t.dtype}, not i32`);
  return (await readAll(k, [t]))[0] as Int32Array;
}
