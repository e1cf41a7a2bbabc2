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
  /** True when the adapter is a CPU rasteriser (SwiftShader): callers may pick smaller defaults. */
  software: boolean;
}

const INSTALL_HINT =
  'no WebGPU adapter found: install a GPU driver with Vulkan support, or on Linux without a GPU ' +
  "install Chromium's SwiftShader (Debian/Ubuntu: `apt-get install chromium`), " +
  'or point BACKWARD_LENS_VK_ICD at a Vulkan ICD json file';

/** Places where Chromium packages ship SwiftShader's Vulkan ICD next to a libvulkan loader. */
const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
  '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

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
  return openDevice(adapter);
}

// The Dawn instance must stay referenced for the life of the process: when it is
// garbage-collected Node crashes at random.
const keepAlive: unknown[] = [];

async function nodeGpu(): Promise<Gpu> {
  const { existsSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const explicit = process.env.BACKWARD_LENS_VK_ICD;
  if (explicit && !existsSync(explicit)) throw new NoAdapterError(`BACKWARD_LENS_VK_ICD=${explicit} does not exist: point it at a Vulkan ICD json file or unset it`);
  const swiftshader = explicit ?? SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (explicit) process.env.VK_ICD_FILENAMES = explicit;
  // Dawn dlopens "libvulkan.so.1" by name. A system without one can still use the
  // loader Chromium ships beside SwiftShader: preloaded with RTLD_NODELETE, Dawn's
  // later lookup by soname finds it.
  if (swiftshader && !systemHasVulkanLoader(existsSync)) preload(join(dirname(swiftshader), 'libvulkan.so.1'), existsSync);
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  if (await hardwareDriverMayExist()) {
    const hardware = await requestNodeAdapter(create);
    if (hardware) return openDevice(hardware);
  }
  if (swiftshader && !explicit) {
    // The Vulkan loader reads VK_ICD_FILENAMES when Dawn creates an instance.
    process.env.VK_ICD_FILENAMES = swiftshader;
    const software = await requestNodeAdapter(create);
    if (software) return openDevice(software);
  }
  throw new NoAdapterError(INSTALL_HINT);
}

async function requestNodeAdapter(create: (flags: string[]) => GPU): Promise<GPUAdapter | null> {
  const gpu = create([]);
  keepAlive.push(gpu);
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** On Linux a Vulkan driver announces itself with an ICD manifest; with none, skip the noisy probe. */
async function hardwareDriverMayExist(): Promise<boolean> {
  if (process.platform !== 'linux' || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  const { readdirSync } = await import('node:fs');
  return ICD_DIRS.some((d) => {
    try {
      return readdirSync(d).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

const LOADER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/lib/x86_64-linux-gnu', '/lib64'];

function systemHasVulkanLoader(exists: (p: string) => boolean): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LOADER_DIRS];
  return process.platform !== 'linux' || dirs.some((d) => exists(`${d}/libvulkan.so.1`));
}

function preload(lib: string, exists: (p: string) => boolean): void {
  if (!exists(lib)) return;
  const RTLD_NOW = 2;
  const RTLD_GLOBAL = 0x100;
  const RTLD_NODELETE = 0x1000; // glibc; Node's os.constants.dlopen omits it
  try {
    process.dlopen({ exports: {} }, lib, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
  } catch {
    // Expected: the library is not a Node addon, but it stays loaded.
  }
}

async function openDevice(adapter: GPUAdapter): Promise<Gpu> {
  const wanted: GPUFeatureName[] = ['timestamp-query'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // Ask for the adapter's maxima: wte of gpt2-small alone is 154 MB, above the default binding size.
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    },
  });
  keepAlive.push(adapter, device);
  const info = adapter.info;
  const parts = [info.description || info.device || info.vendor || 'unknown adapter', info.architecture].filter(Boolean);
  const adapterName = parts.join(' / ');
  const software = /swiftshader|llvmpipe|lavapipe|cpu/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
  device.lost.then((lost) => {
    // The next getGpu() asks for a new device (a web page can recover; a process restarts).
    cached = undefined;
    if (lost.reason !== 'destroyed') console.error(`backward-lens: GPU device lost (${lost.message})`);
  });
  return { device, adapterName, software };
}
