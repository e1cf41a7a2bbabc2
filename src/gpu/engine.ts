// The engine a process shares: one device, every kernel compiled up front so
// dispatch can stay synchronous and WGSL errors surface at start with file:line.
import { getGpu } from './device.ts';
import { Kernels } from './kernels.ts';
import { ALL_KERNELS } from './sources.ts';

let engine: Promise<Kernels> | undefined;

export function getEngine(): Promise<Kernels> {
  engine ??= (async () => {
    const k = new Kernels(await getGpu());
    // A lost device takes its pipelines with it: the next caller gets a new engine.
    k.gpu.device.lost.then(() => { engine = undefined; });
    await k.compile(ALL_KERNELS);
    return k;
  })();
  engine.catch(() => { engine = undefined; });
  return engine;
}
