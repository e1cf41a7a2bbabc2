// Peak memory of the current process, for benches that run each case in a child.
import { readFileSync } from 'node:fs';

/** Peak resident set size of this process so far (Linux VmHWM), in bytes. */
export function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}
