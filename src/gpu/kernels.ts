// WGSL source -> cached pipelines, and the dispatch path every op goes through.
// Work is recorded into one open compute pass and submitted in large batches,
// because on SwiftShader every wait for the GPU costs most of a core.
import type { Gpu } from './device.ts';
import { Profiler, type OpTime } from './profiler.ts';
import { gentleWait } from './wait.ts';

export class KernelCompileError extends Error {
  override name = 'KernelCompileError';
}

export class GpuError extends Error {
  override name = 'GpuError';
  /** The driver's full message, shown with --debug; `message` is its one-line summary. */
  detail?: string;
}

/** A WGSL file: its name (for error messages) and its text. */
export interface KernelSource {
  file: string;
  code: string;
}

/** Marks a uniform value as f32; plain numbers are packed as u32. */
export interface F32 {
  f32: number;
}
export const f32 = (v: number): F32 => ({ f32: v });
export type Param = number | F32;

export class Kernels {
  readonly device: GPUDevice;
  private sources = new Map<string, KernelSource>();
  private modules = new Map<string, GPUShaderModule>();
  /** Compilation checks of modules created lazily, awaited at the next sync(). */
  private compiling: Promise<KernelCompileError | undefined>[] = [];
  private pipelines = new Map<string, GPUComputePipeline>();
  private uniforms = new Map<string, GPUBuffer>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Buffers to destroy once the commands already recorded with them are submitted. */
  private toDestroy: (GPUBuffer | GPUTexture)[] = [];
  private dispatchesSinceSubmit = 0;
  private errors: GPUError[] = [];
  private profiler: Profiler | null = null;
  /**
   * Largest tensor, in bytes, that gets one buffer; larger ones are split in row
   * blocks (src/gpu/buffers.ts). The device's binding limit; tests lower it to run
   * the split paths on small tensors.
   */
  bindLimit: number;

  constructor(readonly gpu: Gpu) {
    this.device = gpu.device;
    const { maxStorageBufferBindingSize, maxBufferSize } = this.device.limits;
    this.bindLimit = Math.floor(Math.min(maxStorageBufferBindingSize, maxBufferSize, gpu.bindLimit ?? Infinity) / 16) * 16;
    // Errors from any call (pipelines, bind groups, submits) arrive here and are thrown
    // at the next sync(); error scopes would not survive several Kernels on one device.
    this.device.addEventListener('uncapturederror', (e) => this.errors.push((e as GPUUncapturedErrorEvent).error));
  }

  /**
   * Names the files pipelines may come from. Each is compiled at its first pipeline,
   * so a process holds only the shader modules it uses: on lavapipe the 16-bit
   * variants of the lens alone hold ~5 MiB that an F32 model never needs.
   */
  register(sources: readonly KernelSource[]): void {
    for (const src of sources) if (!this.sources.has(src.file)) this.sources.set(src.file, src);
  }

  /** Compiles every file now; a WGSL error is thrown here, as "file:line:col: message". */
  async compile(sources: readonly KernelSource[]): Promise<void> {
    this.register(sources);
    for (const src of sources) this.module(src.file);
    await this.checkCompiled();
  }

  private module(file: string): GPUShaderModule {
    let module = this.modules.get(file);
    if (module) return module;
    const src = this.sources.get(file);
    if (!src) throw new KernelCompileError(`kernels/${file} was not compiled: add it to the engine's kernel list`);
    module = this.device.createShaderModule({ label: src.file, code: src.code });
    this.modules.set(file, module);
    // Resolves to the error rather than rejecting: nothing awaits it until the next
    // sync(), and a rejection with no handler yet would end a Node process.
    this.compiling.push(module.getCompilationInfo().then((info) => {
      const errors = info.messages.filter((m) => m.type === 'error');
      if (!errors.length) return undefined;
      const m = errors[0]!;
      return new KernelCompileError(`kernels/${src.file}:${m.lineNum}:${m.linePos}: ${m.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`);
    }, () => undefined)); // a lost device is reported by device.lost
    return module;
  }

  /** Throws the first WGSL error of the modules created since the last check. */
  private async checkCompiled(): Promise<void> {
    const pending = this.compiling;
    this.compiling = [];
    const error = (await Promise.all(pending)).find((e) => e !== undefined);
    if (error) throw error;
  }

  private pipeline(src: KernelSource, entry: string, constants: Record<string, number>): GPUComputePipeline {
    const key = `${src.file}:${entry}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module: this.module(src.file), entryPoint: entry, constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Uniform buffers are immutable and cached by content: the same shapes recur every layer. */
  private uniform(params: readonly Param[]): GPUBuffer {
    const words = new Uint32Array(Math.max(4, Math.ceil(params.length / 4) * 4));
    const floats = new Float32Array(words.buffer);
    params.forEach((p, i) => {
      if (typeof p === 'number') {
        if (!Number.isInteger(p) || p < 0 || p > 0xffffffff) throw new GpuError(`uniform ${i} = ${p} is not a u32: wrap floats in f32()`);
        words[i] = p;
      } else floats[i] = p.f32;
    });
    const key = words.join(',');
    let buf = this.uniforms.get(key);
    if (!buf) {
      if (this.uniforms.size > 4096) this.dropUniforms();
      buf = this.device.createBuffer({ size: words.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint32Array(buf.getMappedRange()).set(words);
      buf.unmap();
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  private dropUniforms(): void {
    this.toDestroy.push(...this.uniforms.values());
    this.uniforms.clear();
  }

  /**
   * Records one dispatch. Binding 0 is the uniform block; buffers[i] goes to binding i + 1,
   * and null skips a binding the entry point does not use.
   */
  dispatch(src: KernelSource, entry: string, params: readonly Param[], buffers: readonly (GPUBuffer | GPUTextureView | null)[], workgroups: readonly [number, number?, number?], constants: Record<string, number> = {}): void {
    const pipeline = this.pipeline(src, entry, constants);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniform(params) } }];
    const limit = this.device.limits.maxStorageBufferBindingSize;
    buffers.forEach((buffer, i) => {
      if (!buffer) return;
      if (!('size' in buffer)) {
        entries.push({ binding: i + 1, resource: buffer });
        return;
      }
      // Checked here so the message names the kernel; WebGPU's names only the bind group.
      if (buffer.size > limit) throw new GpuError(`${src.file.replace('.wgsl', '')}.${entry}: buffer "${buffer.label || `binding ${i + 1}`}" is ${buffer.size} bytes, above this device's maxStorageBufferBindingSize (${limit})`);
      entries.push({ binding: i + 1, resource: { buffer } });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.profiler ? this.profiledPass(`${src.file.replace('.wgsl', '')}.${entry}`) : this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = workgroups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    // Bound how much work one submit holds so memory of finished passes can be reclaimed.
    if (++this.dispatchesSinceSubmit >= 512) this.submit();
  }

  /** Copies happen outside compute passes; this keeps one encoder for both. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  copyToTexture(src: GPUBuffer, offset: number, bytesPerRow: number, dst: GPUTexture, origin: readonly [number, number], size: readonly [number, number]): void {
    this.endPass();
    this.commandEncoder().copyBufferToTexture({ buffer: src, offset, bytesPerRow }, { texture: dst, origin: [...origin] }, [...size]);
  }

  /** Destroys a buffer or texture after the commands already recorded with it are submitted. */
  release(buffer: GPUBuffer | GPUTexture): void {
    this.toDestroy.push(buffer);
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private profiledPass(label: string): GPUComputePassEncoder {
    if (this.profiler!.full) this.submit();
    this.endPass();
    this.pass = this.commandEncoder().beginComputePass({ timestampWrites: this.profiler!.next(label) });
    return this.pass;
  }

  /** Starts timing every dispatch on the GPU (needs the timestamp-query feature). */
  startProfile(): void {
    if (!this.device.features.has('timestamp-query')) throw new GpuError('this adapter has no timestamp-query feature: per-op timing is unavailable');
    this.submit();
    this.profiler = new Profiler(this.device);
  }

  /** Stops timing; returns GPU milliseconds per kernel entry point, largest first. */
  async stopProfile(): Promise<OpTime[]> {
    const p = this.profiler;
    if (!p) return [];
    await this.sync();
    this.profiler = null;
    const times = await p.collect();
    p.destroy();
    return times;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Sends everything recorded so far to the GPU without waiting. */
  submit(): void {
    this.endPass();
    if (this.encoder) {
      this.profiler?.resolve(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
    }
    this.dispatchesSinceSubmit = 0;
    for (const b of this.toDestroy) b.destroy();
    this.toDestroy = [];
  }

  /** Submits and waits; surfaces validation and out-of-memory errors as exceptions. */
  async sync(): Promise<void> {
    this.submit();
    await gentleWait(() => this.device.queue.onSubmittedWorkDone());
    const [first] = this.errors;
    this.errors = [];
    // A broken module also fails its pipelines; its own message says where.
    await this.checkCompiled();
    if (first instanceof GPUOutOfMemoryError) throw gpuError(`GPU out of memory: ${summarize(first.message)} (try a shorter prompt or fewer layers)`, first.message);
    if (first) throw gpuError(`WebGPU error: ${summarize(first.message)}`, first.message);
  }
}

function gpuError(message: string, detail: string): GpuError {
  const e = new GpuError(message);
  e.detail = detail;
  return e;
}

/**
 * Dawn's validation messages are a sentence followed by " - While ..." context lines;
 * the first line says what was wrong and the innermost "While calling" which call.
 */
export function summarize(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const what = (lines[0] ?? 'unknown error').replace(/\.$/, '');
  const call = lines.find((l) => /^- While calling/.test(l))?.replace(/^- While calling\s*/, '').replace(/\.$/, '');
  return call ? `${what} (in ${call})` : what;
}

/** Workgroup counts for n items in groups of `size`, spread over y past the 65,535 limit. */
export function grid1d(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/**
 * Whether kernels share rows of an operand across a subgroup (kernels/*-rows-shared.wgsl):
 * on a CPU adapter whose subgroups hold at least 8 lanes (lavapipe: its 8 SIMD lanes,
 * in the order of the local index), the only place it was measured.
 */
export const sharesRows = (k: Kernels): boolean => k.gpu.software && k.gpu.subgroupSize >= 8;
