import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getGpu } from '../../src/gpu/device.ts';
import { discover, type Fs } from '../../src/gpu/drivers.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { GpuError, KernelCompileError, Kernels, summarize } from '../../src/gpu/kernels.ts';
import { ALL_KERNELS, ELEMENTWISE, SUBGROUP_KERNELS } from '../../src/gpu/sources.ts';

test('the device reports its adapter', async () => {
  const gpu = await getGpu();
  assert.ok(gpu.adapterName.length > 0);
  console.log(`      adapter: ${gpu.adapterName}${gpu.software ? ' (software)' : ''}`);
});

test('a WGSL compile error names the kernel file and line', async () => {
  const k = new Kernels(await getGpu());
  try {
    await k.compile([{ file: 'broken.wgsl', code: 'struct P { n: u32 }\n\nfn f() -> u32 {\n  return undefined_name;\n}\n' }]);
    assert.unreachable('compiled broken WGSL');
  } catch (e) {
    assert.instance(e, KernelCompileError);
    assert.match((e as Error).message, /^kernels\/broken\.wgsl:4:\d+: .*undefined_name/);
  }
});

test('every kernel file the engine registers compiles', async () => {
  const gpu = await getGpu();
  await new Kernels(gpu).compile(gpu.subgroupSize ? [...ALL_KERNELS, ...SUBGROUP_KERNELS] : ALL_KERNELS);
});

test('a kernel file compiled at its first pipeline reports a WGSL error at the next sync, with file and line', async () => {
  const k = new Kernels(await getGpu());
  const broken = { file: 'lazy-broken.wgsl', code: '@compute @workgroup_size(1)\nfn main() {\n  let x = undefined_name;\n}\n' };
  k.register([broken]);
  try {
    k.dispatch(broken, 'main', [], [], [1]);
    // Long enough for the compile check to finish before anything awaits it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await k.sync();
    assert.unreachable('ran broken WGSL');
  } catch (e) {
    assert.instance(e, KernelCompileError);
    assert.match((e as Error).message, /^kernels\/lazy-broken\.wgsl:3:\d+: .*undefined_name/);
  }
});

/** A file system holding only `files` (and the directories above them). */
function fakeFs(files: string[]): Fs {
  return {
    existsSync: (p) => files.includes(p),
    readdirSync: (d) => files.filter((f) => f.startsWith(`${d}/`)).map((f) => f.slice(d.length + 1)),
  };
}

test('discovery: both software drivers at known paths, lavapipe first unless BACKWARD_LENS_ADAPTER says otherwise', () => {
  const fs = fakeFs(['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json']);
  const d = discover(fs, {});
  assert.equal(d.software.map((s) => [s.kind, s.icd, s.how]), [
    ['lavapipe', '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', 'known path'],
    ['swiftshader', '/usr/lib/chromium/vk_swiftshader_icd.json', 'known path'],
  ]);
  assert.equal(d.systemIcds, ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json']);
  assert.is(d.tried.filter((t) => t.exists).length, 2);
  assert.equal(discover(fs, { BACKWARD_LENS_ADAPTER: 'swiftshader' }).software.map((s) => s.kind), ['swiftshader', 'lavapipe']);
  assert.equal(discover(fakeFs([]), { BACKWARD_LENS_VK_ICD: '/x/lvp_icd.json' }).explicit, { kind: 'lavapipe', icd: '/x/lvp_icd.json', how: 'BACKWARD_LENS_VK_ICD' });
  assert.equal(discover(fakeFs([]), {}).software, []);
});

test('discovery: the device nodes that say a hardware driver could find a GPU', () => {
  assert.equal(discover(fakeFs(['/usr/share/vulkan/icd.d/radeon_icd.x86_64.json']), {}).gpuNodes, []);
  const nodes = ['/dev/dri/card0', '/dev/dri/renderD128', '/dev/nvidia0', '/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/dxg', '/dev/null'];
  assert.equal(discover(fakeFs(nodes), {}).gpuNodes, ['/dev/dri/renderD128', '/dev/nvidia0', '/dev/dxg']);
});

test("Dawn's validation dump becomes one line: what was wrong and in which call", () => {
  const dump = [
    'Binding size (154389504) of [Buffer "wte.weight"] is larger than the maximum storage buffer binding size (134217728).',
    ' - While validating entries[2] as a Buffer.',
    ' - While validating [BindGroupDescriptor] against [BindGroupLayout (unlabeled)]',
    ' - While calling [Device].CreateBindGroup([BindGroupDescriptor]).',
  ].join('\n');
  assert.is(summarize(dump), 'Binding size (154389504) of [Buffer "wte.weight"] is larger than the maximum storage buffer binding size (134217728) (in [Device].CreateBindGroup([BindGroupDescriptor]))');
  assert.is(summarize('plain message'), 'plain message');
});

test('a buffer above the binding limit is refused in one line naming the kernel and the limit', async () => {
  const k = await getEngine();
  const limit = k.device.limits.maxStorageBufferBindingSize;
  // Only where such a buffer is cheap: WebGPU's minimum limits (lavapipe, BACKWARD_LENS_LIMITS=minimum).
  if (limit > 256 * 2 ** 20 || limit + 16 > k.device.limits.maxBufferSize) return;
  const big = k.device.createBuffer({ label: 'too.big', size: limit + 16, usage: GPUBufferUsage.STORAGE });
  try {
    k.dispatch(ELEMENTWISE, 'add', [4, 0], [big, big, big], [1]);
    assert.unreachable('dispatched');
  } catch (e) {
    assert.instance(e, GpuError);
    assert.is((e as Error).message, `elementwise.add: buffer "too.big" is ${limit + 16} bytes, above this device's maxStorageBufferBindingSize (${limit})`);
  } finally {
    big.destroy();
  }
});

test('BACKWARD_LENS_LIMITS=minimum gives WebGPU default limits', async () => {
  const gpu = await getGpu();
  if (!gpu.minimumLimits) return;
  assert.is(gpu.device.limits.maxStorageBufferBindingSize, 134217728);
  assert.is(gpu.device.limits.maxBufferSize, 268435456);
});

test.run();
