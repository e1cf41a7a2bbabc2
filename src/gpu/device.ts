// The one way to get a GPUDevice, in Node (Dawn through the `webgpu` package) and
// in a browser (navigator.gpu). Node-only imports are dynamic so the browser
// bundle never reaches them.

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

export interface Gpu {
  device: GPUDevice;
  /** Human-readable adapter description, e.g. "SwiftShader Device (Subzero) (vulkan, cpu)". */
  adapterName: string;
  /** True when the adapter is a CPU rasteriser (SwiftShader, lavapipe): callers may pick smaller defaults. */
  software: boolean;
  /** Which driver and how it was found, e.g. "lavapipe, /usr/share/vulkan/icd.d/lvp_icd.json (known path)". */
  driver: string;
  /** True when the device runs at WebGPU's default limits (BACKWARD_LENS_LIMITS=minimum), not the adapter's. */
  minimumLimits: boolean;
  /**
   * The host's CPU threads: a software adapter runs one workgroup per thread (lavapipe
   * starts one per core, as does SwiftShader's scheduler), so kernels size their
   * workgroups to share a dispatch out evenly (src/gpu/gemm.ts).
   */
  cores: number;
  /** The smallest subgroup the device may run, where it has the subgroups feature; else 0. */
  subgroupSize: number;
  /**
   * A binding limit below the device's (BACKWARD_LENS_BIND_LIMIT, bytes): tensors above
   * it are split as they would be on a device with that limit, so tests can run the
   * split paths on small models.
   */
  bindLimit?: number;
}

let cached: Promise<Gpu> | undefined;

/** One device per process: pipelines and buffers are shared by everything that asks. */
export function getGpu(): Promise<Gpu> {
  cached ??= (typeof navigator !== 'undefined' && 'gpu' in navigator ? browserGpu() : nodeGpu());
  cached.catch(() => { cached = undefined; });
  return cached;
}

async function browserGpu(): Promise<Gpu> {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError('no WebGPU adapter in this browser: enable WebGPU (chrome://flags/#enable-unsafe-webgpu) or use a browser that ships it');
  return openDevice(adapter, 'the browser\'s WebGPU', false);
}

// The Dawn instance must stay referenced for the life of the process: when it is
// garbage-collected Node crashes at random.
const keepAlive: unknown[] = [];

/** Whether the process asked for WebGPU's default limits instead of the adapter's. */
function wantsMinimumLimits(env: Record<string, string | undefined>): boolean {
  const v = env.BACKWARD_LENS_LIMITS;
  if (v === undefined || v === '' || v === 'adapter') return false;
  if (v === 'minimum' || v === 'min') return true;
  throw new NoAdapterError(`BACKWARD_LENS_LIMITS=${v}: use "minimum" (WebGPU's default limits) or "adapter" (the adapter's own)`);
}

function forcedBindLimit(env: Record<string, string | undefined>): number | undefined {
  const v = env.BACKWARD_LENS_BIND_LIMIT;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 64) throw new NoAdapterError(`BACKWARD_LENS_BIND_LIMIT=${v}: give a number of bytes, at least 64`);
  return n;
}

async function nodeGpu(): Promise<Gpu> {
  const gpu = await findNodeGpu();
  const bindLimit = forcedBindLimit(process.env);
  return bindLimit === undefined ? gpu : { ...gpu, bindLimit };
}

async function findNodeGpu(): Promise<Gpu> {
  const { discover, ensureVulkanLoader, INSTALL_HINT } = await import('./drivers.ts');
  const fs = await import('node:fs');
  const minimum = wantsMinimumLimits(process.env);
  const found = discover(fs, process.env);
  const { explicit } = found;
  const wanted = process.env.BACKWARD_LENS_ADAPTER;
  if (wanted && wanted !== 'lavapipe' && wanted !== 'swiftshader') throw new NoAdapterError(`BACKWARD_LENS_ADAPTER=${wanted}: use lavapipe or swiftshader`);
  if (wanted && !explicit && found.software[0]?.kind !== wanted) {
    const paths = found.tried.filter((t) => t.path.includes(wanted === 'lavapipe' ? 'lvp_icd' : 'swiftshader')).map((t) => t.path);
    throw new NoAdapterError(`BACKWARD_LENS_ADAPTER=${wanted}, but no ${wanted} driver is at ${paths.join(', ')}; ${INSTALL_HINT}`);
  }
  if (explicit && !fs.existsSync(explicit.icd)) throw new NoAdapterError(`${explicit.how}=${explicit.icd} does not exist: point it at a Vulkan ICD json file or unset it`);
  ensureVulkanLoader(fs, explicit ? [explicit, ...found.software] : found.software);
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  if (explicit) {
    // The Vulkan loader reads VK_ICD_FILENAMES when Dawn creates an instance.
    process.env.VK_ICD_FILENAMES = explicit.icd;
    const adapter = await requestNodeAdapter(create);
    if (!adapter) throw new NoAdapterError(`no WebGPU adapter found: ${INSTALL_HINT} (the Vulkan driver ${explicit.how}=${explicit.icd} gave none)`);
    return openDevice(adapter, `${explicit.kind}, ${explicit.icd} (${explicit.how})`, minimum);
  }
  // A manifest in the loader's directories may be a GPU, if a GPU's device node
  // exists; a CPU one found there is left to the software order below, so the faster
  // CPU driver still wins. A named software driver skips this probe: VK_ICD_FILENAMES
  // may be one this engine set in a parent process and a child inherited.
  const userIcds = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  if (!wanted && (process.platform !== 'linux' || userIcds || (found.systemIcds.length > 0 && found.gpuNodes.length > 0))) {
    const hardware = await requestNodeAdapter(create);
    if (hardware && (!isSoftware(hardware.info) || userIcds)) return openDevice(hardware, userIcds ? `VK_ICD_FILENAMES=${userIcds}` : 'the system\'s Vulkan drivers', minimum);
  }
  for (const d of found.software) {
    process.env.VK_ICD_FILENAMES = d.icd;
    const software = await requestNodeAdapter(create);
    if (software) {
      const others = found.software.filter((o) => o !== d).map((o) => o.kind);
      const why = others.length ? `; preferred over ${others.join(', ')} (BACKWARD_LENS_ADAPTER=${others[0]} to change)` : '';
      return openDevice(software, `${d.kind}, ${d.icd} (${d.how}${why})`, minimum);
    }
  }
  throw new NoAdapterError(`no WebGPU adapter found: ${INSTALL_HINT}; \`backward-lens doctor\` lists what was tried`);
}

let keepNativeWarnings = true;

/** Drops Dawn's known limit notices from stderr while adapters are requested (the CLI, unless --debug). */
export function filterNativeWarnings(on: boolean): void {
  keepNativeWarnings = !on;
}

export async function requestNodeAdapter(create: (flags: string[]) => GPU): Promise<GPUAdapter | null> {
  const gpu = create([]);
  keepAlive.push(gpu);
  const request = () => gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (keepNativeWarnings) return request();
  const { quietNative } = await import('./native-stderr.ts');
  return quietNative(request);
}

export function isSoftware(info: GPUAdapterInfo): boolean {
  return /swiftshader|llvmpipe|lavapipe|cpu|software/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

export function describeAdapter(info: GPUAdapterInfo): string {
  return [info.description || info.device || info.vendor || 'unknown adapter', info.architecture].filter(Boolean).join(' / ');
}

async function openDevice(adapter: GPUAdapter, driver: string, minimumLimits: boolean): Promise<Gpu> {
  const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // Ask for the adapter's maxima where they are larger: fewer, larger bindings. At
  // the minimum limits the engine splits what does not fit (src/gpu/buffers.ts).
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: minimumLimits ? {} : {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    },
  });
  keepAlive.push(adapter, device);
  const adapterName = describeAdapter(adapter.info);
  const software = isSoftware(adapter.info);
  device.lost.then((lost) => {
    // The next getGpu() asks for a new device (a web page can recover; a process restarts).
    cached = undefined;
    if (lost.reason !== 'destroyed') console.error(`backward-lens: GPU device lost (${lost.message})`);
  });
  // A browser's count, or the OS's in Node (imported only there: the browser bundle has no node:os).
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : (await import('node:os')).availableParallelism();
  const subgroupSize = device.features.has('subgroups') ? (adapter.info.subgroupMinSize ?? 0) : 0;
  return { device, adapterName, software, driver, minimumLimits, cores, subgroupSize };
}
