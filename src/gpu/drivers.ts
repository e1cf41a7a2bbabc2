// Where Vulkan drivers live on Linux, and which of them can stand in for a GPU.
// Used in Node only (device.ts, `doctor`), but it reaches the file system through
// the `Fs` it is given: the browser bundle includes device.ts and must not import node:fs.

/** The two calls discovery needs from node:fs. */
export interface Fs {
  existsSync(path: string): boolean;
  readdirSync(path: string): string[];
}

/** A CPU Vulkan driver Dawn can run WebGPU on, found by its ICD manifest. */
export interface SoftwareDriver {
  kind: 'swiftshader' | 'lavapipe' | 'icd';
  icd: string;
  /** How it was found, for messages: "known path" or the variable that named it. */
  how: string;
}

/** Chromium packages ship SwiftShader's Vulkan ICD next to a libvulkan loader. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
  '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

/** The Vulkan loader's search directories for ICD manifests. */
export const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** Mesa's lavapipe names its manifest lvp_icd.json (Mesa 25) or lvp_icd.<arch>.json (older). */
export const LAVAPIPE_ICDS = ICD_DIRS.flatMap((d) => ['lvp_icd.json', 'lvp_icd.x86_64.json', 'lvp_icd.aarch64.json'].map((f) => `${d}/${f}`));

export const ICD_VARIABLE = 'BACKWARD_LENS_VK_ICD';
export const ADAPTER_VARIABLE = 'BACKWARD_LENS_ADAPTER';
export const LIMITS_VARIABLE = 'BACKWARD_LENS_LIMITS';

/**
 * Which CPU driver wins when both are installed and no GPU exists. Measured on the
 * kernel bench and `analyze` (bench/RESULTS.md, "Software adapters").
 */
export const SOFTWARE_PREFERENCE: readonly SoftwareDriver['kind'][] = ['lavapipe', 'swiftshader'];

export const INSTALL_HINT =
  'install a GPU driver with Vulkan support, or on Linux without a GPU a software Vulkan driver: ' +
  "Chromium's SwiftShader (Debian/Ubuntu: `apt-get install chromium`) or Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`, " +
  `Mesa 23 or newer; on Debian bookworm from bookworm-backports), or point ${ICD_VARIABLE} at a Vulkan ICD json file`;

const kindOf = (icd: string): SoftwareDriver['kind'] => (/swiftshader/i.test(icd) ? 'swiftshader' : /lvp_icd/.test(icd) ? 'lavapipe' : 'icd');

export interface Discovery {
  /** The ICD named by BACKWARD_LENS_VK_ICD, if set. */
  explicit?: SoftwareDriver;
  /** Software drivers at known paths, in the order they will be tried. */
  software: SoftwareDriver[];
  /** Every path looked at, for `doctor`. */
  tried: { path: string; exists: boolean }[];
  /** Some ICD manifest is installed system-wide, so a hardware driver may exist. */
  systemIcds: string[];
  /**
   * The device nodes a hardware Vulkan driver opens (Linux: /dev/dri/renderD*,
   * /dev/nvidia0…, WSL's /dev/dxg). With none, the system's drivers are not loaded:
   * they would find no GPU, yet stay mapped for the life of the process (~10 MiB).
   */
  gpuNodes: string[];
}

export function discover(fs: Fs, env: Record<string, string | undefined>): Discovery {
  const tried = [...SWIFTSHADER_ICDS, ...LAVAPIPE_ICDS].map((path) => ({ path, exists: fs.existsSync(path) }));
  const found = new Map<SoftwareDriver['kind'], SoftwareDriver>();
  for (const { path, exists: ok } of tried) {
    const kind = kindOf(path);
    if (ok && !found.has(kind)) found.set(kind, { kind, icd: path, how: 'known path' });
  }
  const wanted = env[ADAPTER_VARIABLE]?.toLowerCase();
  const order = wanted && SOFTWARE_PREFERENCE.includes(wanted as SoftwareDriver['kind']) ? [wanted, ...SOFTWARE_PREFERENCE.filter((k) => k !== wanted)] : SOFTWARE_PREFERENCE;
  const software = order.flatMap((k) => found.get(k as SoftwareDriver['kind']) ?? []);
  const explicitPath = env[ICD_VARIABLE];
  const systemIcds = ICD_DIRS.flatMap((d) => listJson(fs, d));
  const gpuNodes = [
    ...list(fs, '/dev/dri').filter((f) => f.startsWith('renderD')).map((f) => `/dev/dri/${f}`),
    ...list(fs, '/dev').filter((f) => /^nvidia\d+$|^dxg$/.test(f)).map((f) => `/dev/${f}`),
  ];
  return { ...(explicitPath ? { explicit: { kind: kindOf(explicitPath), icd: explicitPath, how: ICD_VARIABLE } } : {}), software, tried, systemIcds, gpuNodes };
}

function list(fs: Fs, dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

const listJson = (fs: Fs, dir: string): string[] => list(fs, dir).filter((f) => f.endsWith('.json')).map((f) => `${dir}/${f}`);

const LOADER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/lib/x86_64-linux-gnu', '/lib64'];

export function systemVulkanLoader(fs: Fs, env: Record<string, string | undefined>): string | undefined {
  if (process.platform !== 'linux') return 'the platform loader';
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LOADER_DIRS];
  return dirs.map((d) => `${d}/libvulkan.so.1`).find((p) => fs.existsSync(p));
}

const dirOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf('/'))) || '/';

/**
 * Dawn dlopens "libvulkan.so.1" by name. A system without one can still use the
 * loader Chromium ships beside SwiftShader: preloaded with RTLD_NODELETE, Dawn's
 * later lookup by soname finds it. Returns the loader used, if any.
 */
export function ensureVulkanLoader(fs: Fs, drivers: readonly SoftwareDriver[]): string | undefined {
  const system = systemVulkanLoader(fs, process.env);
  if (system) return system;
  for (const d of drivers) {
    const lib = `${dirOf(d.icd)}/libvulkan.so.1`;
    if (!fs.existsSync(lib)) continue;
    const RTLD_NOW = 2;
    const RTLD_GLOBAL = 0x100;
    const RTLD_NODELETE = 0x1000; // glibc; Node's os.constants.dlopen omits it
    try {
      process.dlopen({ exports: {} }, lib, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    } catch {
      // Expected: the library is not a Node addon, but it stays loaded.
    }
    return lib;
  }
  return undefined;
}
