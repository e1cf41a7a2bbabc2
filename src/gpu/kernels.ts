// WGSL source -> cached pipelines, and the dispatch path every op goes through.
// Work is recorded into one open compute pass and submitted in large batches,
// because on SwiftShader every wait for the GPU costs most of a core.
import type { Gpu } from './device.ts';
import { entryBindings, layoutEntries, PADDING_FROM, type BindingKind } from './layouts.ts';
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
  /** Per file:entry, its bindings and the layout they share with every entry point of the same kinds (src/gpu/layouts.ts); null: 'auto'. */
  private entryLayouts = new Map<string, { bindings: Map<number, BindingKind>; padding: number; layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout } | null>();
  private sharedLayouts = new Map<string, { layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout }>();
  private placeholders = new Map<string, GPUBuffer | GPUTextureView>();
  /**
   * Layouts read from the WGSL, on lavapipe only: it backs every descriptor set with a
   * page of its own (analyze's peak 3-8 MiB lower); on SwiftShader, whose descriptors
   * are larger, they measured 2-4 MiB more, and a GPU has no such cost (bench/RESULTS.md,
   * issue 28, 9 and 11).
   */
  private readonly ownLayouts: boolean;
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
    this.ownLayouts = /llvmpipe|lavapipe/i.test(gpu.adapterName);
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
      const layout = this.entryLayout(src, entry)?.pipelineLayout ?? 'auto';
      p = this.device.createComputePipeline({ label: key, layout, compute: { module: this.module(src.file), entryPoint: entry, constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private entryLayout(src: KernelSource, entry: string) {
    const key = `${src.file}:${entry}`;
    let found = this.entryLayouts.get(key);
    if (found === undefined) {
      const bindings = this.ownLayouts ? entryBindings(this.sources.get(src.file)?.code ?? src.code, entry) : undefined;
      found = null;
      if (bindings) {
        const uniforms = [...bindings.values()].filter((kind) => kind === 'uniform').length;
        const entries = layoutEntries(bindings, this.device.limits.maxUniformBuffersPerShaderStage - uniforms);
        const kinds = JSON.stringify(entries);
        let shared = this.sharedLayouts.get(kinds);
        if (!shared) {
          const layout = this.device.createBindGroupLayout({ label: kinds, entries });
          shared = { layout, pipelineLayout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }) };
          this.sharedLayouts.set(kinds, shared);
        }
        found = { bindings, padding: entries.length - bindings.size, ...shared };
      }
      this.entryLayouts.set(key, found);
    }
    return found;
  }

  /** What a binding the caller leaves out is bound to; read-write ones get one each, so none aliases another. */
  private placeholder(kind: BindingKind, binding: number): GPUBindGroupEntry['resource'] {
    const key = kind === 'read_write' ? `${kind}${binding}` : kind;
    let r = this.placeholders.get(key);
    if (!r) {
      const texture = (usage: number, format: GPUTextureFormat = 'rgba32float') => this.device.createTexture({ label: key, size: [1, 1], format, usage }).createView();
      if (kind === 'texture') r = texture(GPUTextureUsage.TEXTURE_BINDING);
      else if (kind === 'uint_texture') r = texture(GPUTextureUsage.TEXTURE_BINDING, 'rgba32uint');
      else if (kind === 'storage_texture') r = texture(GPUTextureUsage.STORAGE_BINDING);
      else r = this.device.createBuffer({ label: `placeholder ${key}`, size: 16, usage: kind === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE });
      this.placeholders.set(key, r);
    }
    return 'size' in r ? { buffer: r } : r;
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
    const explicit = this.entryLayouts.get(`${src.file}:${entry}`);
    if (explicit) {
      const given = new Set(entries.map((e) => e.binding));
      for (const [binding, kind] of explicit.bindings) if (!given.has(binding)) entries.push({ binding, resource: this.placeholder(kind, binding) });
      for (let i = 0; i < explicit.padding; i++) entries.push({ binding: PADDING_FROM + i, resource: this.placeholder('uniform', 0) });
    }
    const bindGroup = this.device.createBindGroup({ layout: explicit?.layout ?? pipeline.getBindGroupLayout(0), entries });
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
