// Where a command's peak memory is reached: runs it, samples its resident memory every
// few milliseconds from /proc (smaps_rollup: anonymous pages, and file-backed or shared
// ones, which on lavapipe include the device's memory, mapped from memfd), and prints
// a timeline with the command's stderr lines in place, then the peak (VmHWM) and
// the sample nearest it. Linux only.
//   node dist/bench/rss-timeline.js [--every 20] [--print 500] -- node dist/cli.js analyze ...
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { every: { type: 'string', default: '20' }, print: { type: 'string', default: '500' } } });
if (positionals.length === 0) {
  console.error('usage: rss-timeline [--every MS] [--print MS] -- COMMAND [ARGS...]');
  process.exit(2);
}
const every = Number(values.every);
const printEvery = Number(values.print);
const started = performance.now();
const secs = () => ((performance.now() - started) / 1000).toFixed(2).padStart(7);
const mib = (kb: number) => (kb / 1024).toFixed(0).padStart(5);

interface Sample { rss: number; anon: number; hwm: number }

function sample(pid: number): Sample | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: kb(rollup, 'Rss'), anon: kb(rollup, 'Anonymous'), hwm: kb(status, 'VmHWM') };
  } catch {
    return undefined; // the process has just exited
  }
}

const line = (s: Sample) => `${secs()} rss ${mib(s.rss)}  anonymous ${mib(s.anon)}  file/shared ${mib(s.rss - s.anon)}  peak ${mib(s.hwm)} MiB`;

const child = spawn(positionals[0]!, positionals.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
createInterface({ input: child.stderr! }).on('line', (l) => console.log(`${secs()} | ${l}`));
let top: { at: string; s: Sample } | undefined;
let last: Sample | undefined;
let printed = -Infinity;
const timer = setInterval(() => {
  const s = sample(child.pid!);
  if (!s) return;
  last = s;
  const now = performance.now();
  if (!top || s.rss > top.s.rss) top = { at: secs(), s };
  if (now - printed >= printEvery) {
    console.log(line(s));
    printed = now;
  }
}, every);
child.on('exit', (code) => {
  clearInterval(timer);
  if (top && last) console.log(`exit ${code}; peak (VmHWM) ${mib(last.hwm)} MiB; largest sample ${mib(top.s.rss)} MiB at ${top.at.trim()} s: anonymous ${mib(top.s.anon).trim()}, file/shared ${mib(top.s.rss - top.s.anon).trim()}`);
  process.exit(code ?? 1);
});
