// Temporaries of atomic writes: removed when SIGINT or SIGTERM arrives in the write
// window, swept when a dead process left them, a replaced directory whose
// replacement never arrived renamed back; outputs that are links written through.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutputSet, textWriter } from '../../src/cli/output-file.ts';
import { HOST_TAG, release, tempDir, tempFile } from '../../src/model/temp-files.ts';
import { replaceDirAtomic } from '../../src/model/node-file.ts';

// Child mode: make a temporary file and a temporary directory, say where, and wait for a signal.
const child = process.env.TEMP_FILES_CHILD;
if (child) {
  const file = tempFile(join(child, 'out.json'));
  writeFileSync(file, 'x');
  const dir = tempDir(join(child, 'model'));
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.safetensors'), 'x');
  process.stdout.write('ready\n');
  setInterval(() => undefined, 1000);
} else {
  const work = mkdtempSync(join(tmpdir(), 'bl-temps-'));
  const deadPid = () => spawnSync('true').pid!;
  test.after(() => rmSync(work, { recursive: true, force: true }));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} in the write window removes the temporaries and exits ${signal === 'SIGINT' ? 130 : 143}`, async () => {
      const dir = join(work, signal);
      mkdirSync(dir);
      const p = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, TEMP_FILES_CHILD: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((done) => p.on('close', (code) => done(code)));
      await new Promise<void>((ready) => p.stdout.on('data', () => ready()));
      assert.is(readdirSync(dir).length, 2);
      p.kill(signal);
      assert.is(await exited, signal === 'SIGINT' ? 130 : 143);
      assert.equal(readdirSync(dir), []);
    });
  }

  test('the next write into a directory sweeps this host\'s dead processes\' temporaries and restores a replaced directory left aside; another host\'s stay', async () => {
    const dir = join(work, 'stale');
    mkdirSync(dir);
    const dead = `${HOST_TAG}-${deadPid()}`;
    writeFileSync(join(dir, `a.json.${dead}.abcdefgh12.tmp`), 'stale');
    mkdirSync(join(dir, `.model.partial-${dead}-abcdefgh12`));
    mkdirSync(join(dir, `.kept.partial-${dead}-abcdefgh12.old`));
    writeFileSync(join(dir, `.kept.partial-${dead}-abcdefgh12.old`, 'config.json'), '{}');
    const live = `mine.${HOST_TAG}-${process.pid}.abcdefgh12.tmp`;
    writeFileSync(join(dir, live), 'a live process\'s');
    const elsewhere = `b.json.other-host-${deadPid()}.abcdefgh12.tmp`;
    writeFileSync(join(dir, elsewhere), 'another machine\'s, on shared storage');
    writeFileSync(join(dir, 'notes.2024.tmp'), 'a user\'s file');
    const files = await OutputSet.check([['--json', join(dir, 'b.json')]]);
    await files.stage(join(dir, 'b.json'), textWriter('{}'));
    await files.commit();
    assert.equal(readdirSync(dir).sort(), ['b.json', elsewhere, 'kept', live, 'notes.2024.tmp'].sort());
    assert.is(readFileSync(join(dir, 'kept', 'config.json'), 'utf8'), '{}');
  });

  test('outputs that are links: written through (the link stays); two outputs naming one file through a link are refused', async () => {
    const dir = join(work, 'links');
    mkdirSync(dir);
    writeFileSync(join(dir, 'real.json'), 'old');
    symlinkSync('real.json', join(dir, 'link.json'));
    const same = await OutputSet.check([['--json', join(dir, 'real.json')], ['--html', join(dir, 'link.json')]]).then(() => 'accepted', (e: Error) => e.message);
    assert.match(same, /--json and --html both name/);
    const files = await OutputSet.check([['--json', join(dir, 'link.json')]]);
    await files.stage(join(dir, 'link.json'), textWriter('new'));
    await files.commit();
    assert.ok(lstatSync(join(dir, 'link.json')).isSymbolicLink());
    assert.is(readFileSync(join(dir, 'real.json'), 'utf8'), 'new');
    mkdirSync(join(dir, 'model'));
    symlinkSync('model', join(dir, 'model-link'));
    await replaceDirAtomic(join(dir, 'model-link'), async (d) => writeFileSync(join(d, 'config.json'), '{}'), true);
    assert.ok(lstatSync(join(dir, 'model-link')).isSymbolicLink());
    assert.ok(existsSync(join(dir, 'model', 'config.json')));
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('.')), []);
  });

  test('release() of the last temporary gives the signals back', () => {
    const before = process.listenerCount('SIGTERM');
    const t = tempFile(join(work, 'x'));
    assert.is(process.listenerCount('SIGTERM'), before + 1);
    release(t);
    assert.is(process.listenerCount('SIGTERM'), before);
  });

  test.run();
}
