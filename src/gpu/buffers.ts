// Allocation, upload and readback. Readbacks are explicit and batched: one submit
// and one wait for any number of tensors.
import { Tensor, type DType } from '../tensor.ts';
import type { Kernels } from './kernels.ts';

// Read at call time: in Node the GPU globals exist only after getGpu().
const usage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function byteSize(shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad tensor shape [${shape.join(', ')}]`);
  // WebGPU rejects zero-sized bindings; 16 bytes also keeps vec4 views legal.
  return Math.max(16, Math.ceil((n * 4) / 16) * 16);
}

/** A zero-filled tensor (WebGPU zero-initialises new buffers). */
export function zeros(k: Kernels, shape: readonly number[], dtype: DType = 'f32', name = ''): Tensor {
  const buffer = k.device.createBuffer({ label: name, size: byteSize(shape), usage: usage() });
  return new Tensor(buffer, [...shape], dtype, (b) => k.release(b), name);
}

/** Uploads through a buffer mapped at creation, so it never races recorded work on a reused buffer. */
export function upload(k: Kernels, shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'f32', name = ''): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new RangeError(`${name || 'tensor'}: ${data.length} values for shape [${shape.join(', ')}]`);
  const buffer = k.device.createBuffer({ label: name, size: byteSize(shape), usage: usage(), mappedAtCreation: true });
  const view = dtype === 'f32' ? new Float32Array(buffer.getMappedRange()) : new Int32Array(buffer.getMappedRange());
  view.set(data);
  buffer.unmap();
  return new Tensor(buffer, [...shape], dtype, (b) => k.release(b), name);
}

/** A tensor whose bytes `fill` writes into its mapping: loads weights with no copy in between. */
export async function uploadFrom(k: Kernels, shape: readonly number[], fill: (bytes: Uint8Array) => Promise<void>, name = ''): Promise<Tensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  const buffer = k.device.createBuffer({ label: name, size: byteSize(shape), usage: usage(), mappedAtCreation: true });
  try {
    await fill(new Uint8Array(buffer.getMappedRange(), 0, n * 4));
  } catch (e) {
    buffer.destroy();
    throw e;
  }
  buffer.unmap();
  return new Tensor(buffer, [...shape], 'f32', (b) => k.release(b), name);
}

/** Reads several tensors with one submit and one wait. */
export async function readAll(k: Kernels, tensors: readonly Tensor[]): Promise<(Float32Array | Int32Array)[]> {
  const staging = tensors.map((t) => {
    const bytes = t.size * 4;
    const s = k.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    if (bytes > 0) k.copy(t.buffer, 0, s, 0, bytes);
    return s;
  });
  await k.sync();
  await Promise.all(staging.map((s) => s.mapAsync(GPUMapMode.READ)));
  return staging.map((s, i) => {
    const t = tensors[i]!;
    const copy = t.dtype === 'f32' ? new Float32Array(s.getMappedRange().slice(0, t.size * 4)) : new Int32Array(s.getMappedRange().slice(0, t.size * 4));
    s.unmap();
    s.destroy();
    return copy;
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
