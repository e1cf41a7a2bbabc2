// 16-bit weights kept packed on the device: the kernel cases of test/kernels/packed.cases.ts.
import { test } from 'uvu';
import { getEngine } from '../../src/gpu/engine.ts';
import { packedCases } from './kernels/packed.cases.ts';

for (const c of packedCases) test(c.name, async () => c.run(await getEngine()));
test.run();
