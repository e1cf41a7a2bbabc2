// Wall and CPU milliseconds of one awaited call: CPU is the whole process's (user +
// system, the adapter's threads included), the work whatever else the machine runs.
export async function wallAndCpu(work: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}
