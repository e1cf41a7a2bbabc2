// The `backward-lens` command. Errors print one line (the stack with --debug) and
// exit non-zero: 2 for bad input or usage, 1 when the machine cannot run it.
import { setFlagsFromString } from 'node:v8';
import { analyzeCommand } from './cli/analyze.ts';
import { doctorCommand } from './cli/doctor.ts';
import { UsageError, type Command } from './cli/common.ts';
import { cliMessage } from './cli/errors.ts';
import { editCommand } from './cli/edit.ts';
import { evalCommand, evalMergeCommand } from './cli/eval.ts';
import { factorsCommand } from './cli/factors.ts';
import { factsCommand } from './cli/facts.ts';
import { sweepCommand } from './cli/sweep.ts';
import { statsCommand } from './cli/stats.ts';
import { studyCommand } from './cli/study.ts';
import { trainCommand } from './cli/train.ts';
import { filterNativeWarnings, NoAdapterError } from './gpu/device.ts';
import { GpuError, KernelCompileError } from './gpu/kernels.ts';
import pkg from '../package.json' with { type: 'json' };
import { SplitTensorError } from './tensor.ts';

const commands: Record<string, Command> = {
  analyze: analyzeCommand,
  factors: factorsCommand,
  edit: editCommand,
  train: trainCommand,
  facts: factsCommand,
  doctor: doctorCommand,
  eval: evalCommand,
  'eval-merge': evalMergeCommand,
  sweep: sweepCommand,
  study: studyCommand,
  stats: statsCommand,
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'backward-lens: project language-model gradients into the vocabulary (Backward Lens, Katz et al.)',
    '',
    'usage: backward-lens COMMAND [options]   (backward-lens COMMAND --help for details)',
    '       backward-lens --version',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') return void console.log(help());
  if (name === '--version' || name === '-V') return void console.log(`backward-lens ${pkg.version}`);
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}`);
  await command.run(rest);
}

const environmentErrors = [NoAdapterError, GpuError, KernelCompileError, SplitTensorError];

// Dawn's notices about limits it lowers say nothing a user can act on; --debug keeps them.
filterNativeWarnings(!process.argv.includes('--debug'));

// V8 doubles its young generation whenever enough objects survive its collections, up
// to 2 x 16 MiB here, and keeps it for the life of the process. A command's large data
// is in typed arrays and on the device, so the growth bought no speed (CPU time within
// 1 % of `analyze` of 1 and 16 pairs) but added 8-12 MiB to the peak of `analyze` of
// gpt2-small (bench/RESULTS.md, issue 28, 9). Node reads --max-semi-space-size only at
// startup; the growth factor V8 reads at each growth, so it can be set from here.
setFlagsFromString('--semi-space-growth-factor=1');

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    if (process.argv.includes('--debug')) console.error(err.stack);
    if (process.argv.includes('--debug') && err instanceof GpuError && err.detail) console.error(err.detail);
    console.error(`backward-lens: ${cliMessage(err)}`);
    if (err instanceof UsageError) console.error('run with --help for usage');
    process.exit(environmentErrors.some((c) => err instanceof c) ? 1 : 2);
  },
);
