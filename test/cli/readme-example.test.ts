// The README's library example, run exactly as written against the built package:
// a scratch project whose node_modules/backward-lens is this repository, so Node
// resolves it through package.json "exports" to dist/index.js like an installed copy.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/** The ```js block after the `<!-- library example -->` marker in README.md. */
function readmeExample(): string {
  const readme = readFileSync('README.md', 'utf8');
  const m = /<!-- library example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```js block after <!-- library example -->');
  return m[1]!;
}

test('the README library example runs against the built package: edit, query, restore', () => {
  const code = readmeExample();
  assert.ok(code.split('\n').filter((l) => l.trim()).length <= 15, 'the example stays within 15 lines');
  const dir = mkdtempSync(join(tmpdir(), 'bl-example-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(resolve('.'), join(dir, 'node_modules', 'backward-lens'), 'dir');
    writeFileSync(join(dir, 'example.mjs'), code);
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    assert.is(r.status, 0, r.stderr);
    const line = (label: string) => r.stdout.split('\n').find((l) => l.startsWith(label)) ?? '';
    assert.match(line('before:'), /" French"/);
    assert.match(line('edited:'), /^edited: +" Russian"/);
    assert.match(line('changed:'), /h\.3\.mlp\.c_proj\.weight/);
    const after = (label: string) => line(label).slice(label.length).trim();
    assert.is(after('restored:'), after('before:'), 'restore() gives the original distribution back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
