// The engine a process shares: one device and every kernel file, each compiled at
// its first pipeline (dispatch stays synchronous; a WGSL error surfaces at the next
// sync with file:line; test/engine/device.test.ts compiles them all).
import { getGpu } from './device.ts';
import { Kernels } from './kernels.ts';
import { ALL_KERNELS, SUBGROUP_KERNELS } from './sources.ts';

let engine: Promise<Kernels> | undefined;

export function getEngine(): Promise<Kernels> {
  engine ??= (async () => {
    const k = new Kernels(await getGpu());
    // A lost device takes its pipelines with it: the next caller gets a new engine.
    k.gpu.device.lost.then(() => { engine = undefined; });
    k.register(k.gpu.subgroupSize ? [...ALL_KERNELS, ...SUBGROUP_KERNELS] : ALL_KERNELS);
    return k;
  })();
  engine.catch(() => { engine = undefined; });
  return engine;
}
