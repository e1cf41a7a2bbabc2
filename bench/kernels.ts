// `npm run bench`: kernel micro-benchmarks at GPT-2 small sizes, with
// tfjs-backend-webgpu's matmul on the same device in the same run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { DEFAULTS, ROOFLINE, measureAll, resultLine, rooflineLine, table } from './lib/harness.ts';
import { ourSpecs, select, tfjsOn, tfjsSpecs } from './lib/suite.ts';

const HELP = `usage: npm run bench -- [options]
  --json FILE   where to write the results (default dist/bench/results.json)
  --reps N      timed reps per case (default ${DEFAULTS.reps}; the LM head and 1024^3 cap theirs)
  --only TEXT   only cases whose "kernel shape impl" contains TEXT, e.g. 16x768x3072 or tfjs
  --quick       prompt-sized cases only, 5 reps
  --spin        wait for the GPU at once, as the engine does, instead of sleeping
                through most of each rep first (dawn-node's wait spins a core)
  --help        this text
Each rep is a batch of calls ended by one GPU sync; times are per call.`;

const { values: args } = parseArgs({
  options: {
    json: { type: 'string', default: 'dist/bench/results.json' },
    reps: { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    spin: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const reps = Number(args.reps ?? (args.quick ? 5 : DEFAULTS.reps));
if (!Number.isInteger(reps) || reps < 1) {
  console.error(`--reps ${args.reps}: expected a positive integer\n\n${HELP}`);
  process.exit(2);
}

const k = await getEngine();
const adapter = k.gpu.adapterName;
// tfjs-backend-webgpu refuses to construct unless navigator.gpu exists; it is
// handed our device, so this object only has to be there. Set after getEngine,
// which takes navigator.gpu to mean "in a browser".
const nav = (globalThis as { navigator?: object }).navigator;
Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu: {} }, configurable: true });
let theirs: ReturnType<typeof tfjsSpecs> = [];
let tfjsError: string | undefined;
try {
  theirs = tfjsSpecs(k, await tfjsOn(k.device));
} catch (e) {
  tfjsError = (e as Error).message;
  console.error(`tfjs-backend-webgpu did not start, running ours only: ${tfjsError}`);
}

const cases = select(ourSpecs(k), theirs, { quick: args.quick, ...(args.only ? { only: args.only } : {}) });
if (!cases.length) {
  console.error(`no case matches --only ${args.only}`);
  process.exit(2);
}
const roofline = k.gpu.software ? ROOFLINE : undefined;
console.log(`adapter: ${adapter}`);
if (roofline) console.log(rooflineLine(roofline));
const load = [loadavg()];
const options = { ...DEFAULTS, reps, ...(args.spin ? { sleepBeforeSync: 0 } : {}) };
const results = await measureAll(cases, adapter, options, roofline, (r) => console.log(resultLine(r)));
load.push(loadavg());
console.log(`\n${table(results)}`);
console.log(`load average (1, 5, 15 min) before ${load[0]!.map((l) => l.toFixed(2)).join(' ')}, after ${load[1]!.map((l) => l.toFixed(2)).join(' ')}`);

const cpu = cpus();
const report = {
  date: new Date().toISOString(),
  runtime: `node ${process.version}`,
  machine: `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
  adapter,
  command: process.argv.slice(2).join(' '),
  options: { ...options, quick: args.quick, only: args.only ?? null },
  load_average: { before: load[0], after: load[1] },
  roofline: roofline ?? null,
  tfjs_error: tfjsError ?? null,
  results,
};
mkdirSync(dirname(args.json), { recursive: true });
writeFileSync(args.json, JSON.stringify(report, null, 2));
console.log(`wrote ${args.json}`);
// Dawn keeps the event loop alive.
process.exit(0);
