// The CLI's smaller edges (issue 22, items 12-25): escapes, caches, messages, the
// adapter's known warnings, defaults and the files a run writes. Every case runs the
// embedded default model, so each stays a few seconds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const work = mkdtempSync(join(tmpdir(), 'bl-small-edges-'));
const PROMPT = 'Michel Denisot spoke the language';

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading') && !l.includes('warning:'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.join('\n') };
}

test.after(() => rmSync(work, { recursive: true, force: true }));

// Item 13.
test('analyze echoes a prompt and target holding terminal escapes as \\xNN, as the cells are', () => {
  const r = cli(['analyze', '--prompt', 'Michel Denisot\x1b]0;pwned\x07 spoke the language', '--target', ' Russian\x1b[2J', '--layers', '3', '--no-color']);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(r.stdout.includes('\x1b') || r.stdout.includes('\x07'), 'no raw control character reaches stdout');
  assert.ok(r.stdout.includes('"Michel Denisot\\x1B]0;pwned\\x07 spoke the language" → " Russian\\x1B[2J"'), r.stdout.split('\n')[0]);
});

// Item 16.
test('Dawn\'s known limit notices are dropped unless --debug; every other line on stderr stays', () => {
  const args = ['analyze', '--prompt', PROMPT, '--target', ' Russian', '--layers', '3', '--no-color'];
  // The Vulkan loader's own log goes to the same descriptor while the adapter is requested.
  const env = { VK_LOADER_DEBUG: 'warn,error,info' };
  const known = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced/;
  const lines = (stderr: string) => stderr.split('\n').map((l) => l.replace(/ in [\d.]+ s$/, ''));
  // A shell pipe, as a user's `| less` is: a Node child's stderr is a socket, which the filter leaves alone.
  const stderrThroughPipe = (extra: string[]) => {
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$0" dist/cli.js "$@" 2>&1 >/dev/null | cat', process.execPath, ...args, ...extra], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.is(r.status, 0, r.stdout + r.stderr);
    return lines(r.stdout);
  };
  const quiet = stderrThroughPipe([]);
  const debug = stderrThroughPipe(['--debug']);
  assert.not.ok(quiet.some((l) => known.test(l)), quiet.join('\n'));
  assert.equal(quiet, debug.filter((l) => !known.test(l)));
});

test.run();
