// `backward-lens train` against the audit of issue 22: a directory holding a run is
// not silently replaced, an overflowing learning rate writes nothing, SIGTERM
// checkpoints as Ctrl-C does, a torn log line does not block --resume, and a
// system path is refused before any work.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, interrupted } from '../cli-run.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-trainh-'));
const TINY = ['--records', '40', '--layers', '2', '--embd', '16', '--heads', '2', '--epochs', '2', '--batch', '8', '--warmup', '3'];

const said = (stderr: string) => stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:') && !l.startsWith('backward-lens train:') && l.trim() !== '');
const logSteps = (dir: string) => readFileSync(join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);

test.after(() => rmSync(work, { recursive: true, force: true }));

test('--out holding a training run: refused without --resume or --force, replaced with --force', () => {
  const dir = join(work, 'run');
  assert.is(cli(['train', '--out', dir, ...TINY, '--max-steps', '3']).status, 0);
  const model = readFileSync(join(dir, 'model.safetensors'));
  const again = cli(['train', '--out', dir, ...TINY, '--max-steps', '2']);
  assert.is(again.status, 2, again.stderr);
  assert.match(again.stderr, /--out .*run holds a training run \(checkpoint\.safetensors\); pass --resume to continue it, --force/);
  assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(model), 'untouched');
  const forced = cli(['train', '--out', dir, ...TINY, '--max-steps', '2', '--force']);
  assert.is(forced.status, 0, forced.stderr);
  assert.equal(logSteps(dir), [1, 2]);
});

test('--lr that overflows float32: one line naming what overflowed and the fix, exit 2, nothing written', () => {
  const dir = join(work, 'overflow');
  const r = cli(['train', '--out', dir, ...TINY, '--lr', '1e30']);
  assert.is(r.status, 2, r.stderr);
  const lines = said(r.stderr);
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /became infinite or NaN by step \d+: --lr 1e\+?30 overflows float32; choose a smaller --lr/);
  assert.not.ok(existsSync(dir), 'nothing written');
});

test('SIGTERM writes a checkpoint as Ctrl-C does; a torn last log line is dropped on --resume', async () => {
  const dir = join(work, 'term');
  const log = join(dir, 'train-log.jsonl');
  const { code, stderr } = await interrupted(['train', '--out', dir, ...TINY], () => existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 3, 'SIGTERM');
  assert.is(code, 143, stderr);
  const m = /interrupted after step (\d+) of 30; wrote .*checkpoint\.safetensors/.exec(stderr);
  assert.ok(m, stderr);
  appendFileSync(log, '{"step": 9');
  const resumed = cli(['train', '--out', dir, ...TINY, '--resume']);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.equal(logSteps(dir), Array.from({ length: 30 }, (_, i) => i + 1));
});

test('--out under /proc is refused at once', () => {
  const r = cli(['train', '--out', '/proc/x', ...TINY]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--out \/proc\/x: a system path/);
});

test.run();
