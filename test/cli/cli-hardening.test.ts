// edit, analyze, sweep and stats against the audit of issue 22: an overflowing eta
// writes nothing, a huge --tokens is capped, a 100,000-character word returns, a
// tolerance below float64's precision ends, and outputs are checked before the work.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefusedEarly, cli, inTheWay, said } from '../cli-run.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-clih-'));
const PAIR = ['--prompt', 'Michel Denisot spoke the language', '--target', ' Russian'];

test.after(() => rmSync(work, { recursive: true, force: true }));

test('edit with an eta that overflows float32: one line naming the tensor and the fix, exit 2, nothing written', () => {
  const out = join(work, 'edited');
  const json = join(work, 'edit.json');
  for (const method of [['--method', 'sgd', '--lr', '1e39'], ['--method', 'shift', '--lr', '1e39']]) {
    const r = cli(['edit', ...PAIR, ...method, '--layers', '3', '--out', out, '--json', json]);
    assert.is(r.status, 2, r.stderr);
    assert.equal(said(r.stderr), ['backward-lens: the edit made h.3.mlp.c_proj.weight infinite or NaN (float32 overflowed); choose a smaller learning rate; nothing was written']);
    assert.not.ok(existsSync(out) || existsSync(json));
  }
});

test('edit --tokens 1000000 is capped at the context, and says so', () => {
  const started = Date.now();
  const r = cli(['edit', ...PAIR, '--method', 'shift', '--tokens', '1000000']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /--tokens 1000000 is capped at the model's context, 64 tokens/);
  assert.ok(Date.now() - started < 60000);
});

test('a 100,000-character word as the prompt returns at once with the context error', () => {
  const started = Date.now();
  const r = cli(['analyze', '--prompt', 'a'.repeat(100_000), '--target', ' Paris']);
  assert.is(r.status, 2, r.stderr);
  assert.match(said(r.stderr)[0]!, /context is 64; shorten the prompt/);
  assert.ok(Date.now() - started < 30000, `${Date.now() - started} ms`);
});

test('sweep --tolerance below float64 precision ends when the bisection stops moving', () => {
  const out = join(work, 'sweep');
  const r = cli(['sweep', '--records', '0', '--methods', 'shift', '--layers', '3', '--tolerance', '1e-300', '--no-perplexity', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(join(out, 'sweep.json')));
});

test('sweep and stats: outputs and --wikitext checked before any work', () => {
  const { file, empty } = inTheWay(work);
  const cases: [string[], RegExp][] = [
    [['sweep', '--records', '0', '--out', '/proc/x'], /--out \/proc\/x: a system path/],
    [['sweep', '--records', '0', '--out', file], /exists and is not a directory/],
    [['sweep', '--records', '0', '--out', join(work, 'no', 'dir')], /does not exist; create it/],
    [['sweep', '--records', '0', '--wikitext', empty, '--out', join(work, 's2')], /--wikitext .*empty\.raw: no row of at least 30 characters/],
    [['stats', '--layers', '0', '--tokens', '64', '--cache', '/proc/x'], /--cache \/proc\/x: a system path/],
    [['stats', '--layers', '0', '--tokens', '64', '--cache', file], /--cache .*a-file: exists and is not a directory/],
  ];
  assertRefusedEarly(cases);
  assert.not.ok(existsSync(join(work, 's2')));
});

test.run();
