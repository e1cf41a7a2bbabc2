// Running dist/cli.js as a user does, for the CLI tests: a run to completion, a run
// stopped by a signal once it has got far enough, and a list of refused inputs.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

/** Runs the CLI; `shell` commands (ulimit, trap) go before it in bash. */
export function cli(args: readonly string[], shell?: string) {
  if (shell) return spawnSync('bash', ['-c', `${shell}; exec "$0" "$@"`, process.execPath, 'dist/cli.js', ...args], { encoding: 'utf8' });
  return spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
}

/** Our lines on stderr: Dawn's "Warning:" lines and the model's loading line are not ours. */
export const said = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:') && !/loading/.test(l));

/** Starts the CLI, sends `signal` once `ready()` holds, and gives its exit code and stderr. */
export async function interrupted(args: readonly string[], ready: () => boolean, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  while (!ready()) await new Promise((r) => setTimeout(r, 20));
  child.kill(signal);
  return { code: await exited, stderr };
}

/** Each input is refused before the model loads: exit 2, our first line matching. */
export function assertRefusedEarly(cases: readonly (readonly [args: readonly string[], message: RegExp])[]): void {
  for (const [args, message] of cases) {
    const r = cli(args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(said(r.stderr)[0]!, message, args.join(' '));
    assert.not.match(r.stderr, /loading|collecting statistics|cells/, `${args.join(' ')}: refused before the work`);
  }
}

/** In `dir`: a file where a directory is expected, and an empty text file. */
export function inTheWay(dir: string): { file: string; empty: string } {
  const [file, empty] = [join(dir, 'a-file'), join(dir, 'empty.raw')];
  writeFileSync(file, 'x');
  writeFileSync(empty, '');
  return { file, empty };
}
