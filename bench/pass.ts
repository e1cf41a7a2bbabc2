// The forward + backward pass of `analyze` (an analysis tape: input gradients and
// every module's factors, no weight gradients) on a checkpoint, timed pass by pass.
// Beside the wall time it gives the process's CPU time per pass (user + system, the
// software adapter's threads included): on a shared machine the wall time measures the
// load as much as the work. Run two builds' copies alternately to compare them.
//   node dist/bench/pass.js --model DIR [--tokens N] [--reps N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { wallAndCpu } from './lib/cpu-time.ts';
import { analysisPass } from './lib/pass.ts';
import { promptOfLength } from './lib/prompts.ts';
import { fmt, timing } from './lib/stats.ts';

const HELP = `node dist/bench/pass.js --model DIR [--tokens N] [--reps N] [--json FILE]
Times the forward + backward pass of \`analyze\` (all factors kept) on a checkpoint.
  --model DIR   the checkpoint (e.g. from dist/bench/shaped-checkpoint.js)
  --tokens N    prompt length in tokens (default 16)
  --reps N      timed passes after one untimed (default 7)
  --json FILE   also write the results as JSON
Prints the median wall time and process CPU time (user + system, all threads) per pass.`;

const { values } = parseArgs({ options: { model: { type: 'string' }, tokens: { type: 'string', default: '16' }, reps: { type: 'string', default: '7' }, json: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const tokens = Number(values.tokens);
const reps = Number(values.reps);
if (!values.model || !Number.isInteger(tokens) || tokens < 2 || !Number.isInteger(reps) || reps < 1) {
  console.error(`${values.model ? '--tokens and --reps take whole numbers (tokens at least 2)' : '--model DIR is required'}\n\n${HELP}`);
  process.exit(2);
}

const k = await getEngine();
const { model, tokenizer } = await loadModelPath(k, values.model);
const ids = tokenizer.encode(promptOfLength(tokenizer, tokens));
const target = ids[ids.length - 1]!;

const pass = () => wallAndCpu(() => analysisPass(model, ids, target));

const load = [loadavg()[0]!];
await pass(); // pipelines, uniforms
const runs = [];
for (let i = 0; i < reps; i++) runs.push(await pass());
load.push(loadavg()[0]!);
const wall = timing(runs.map((r) => r.wall));
const cpu = timing(runs.map((r) => r.cpu));
console.log(`adapter: ${k.gpu.adapterName}; ${ids.length} tokens; load average ${load.map((l) => l.toFixed(2)).join(' -> ')}`);
console.log(`wall per pass ${fmt(wall)}`);
console.log(`CPU per pass  ${fmt(cpu)}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: k.gpu.adapterName, model: values.model, tokens: ids.length, load_average: load, wall, cpu, runs }, null, 2));
// Dawn keeps the event loop alive.
process.exit(0);
