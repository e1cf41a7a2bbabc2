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

test.run();
