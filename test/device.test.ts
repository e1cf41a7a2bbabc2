import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getGpu } from '../src/gpu/device.ts';
import { KernelCompileError, Kernels } from '../src/gpu/kernels.ts';

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

test.run();
