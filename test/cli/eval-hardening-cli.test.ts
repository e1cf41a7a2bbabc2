// `eval` and `eval-merge` against the audit of issue 22: one writer per directory,
// every line keyed by (record, method) on resume and merge, an overflowing edit
// recorded as failed, outputs and inputs checked before any work, and a merge that
// fails leaves nothing behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefusedEarly, cli, inTheWay, said } from '../cli-run.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-evalh-'));
const ARGS = ['--records', '0-1', '--method', 'original', '--method', 'shift:layers=3,lr=1', '--no-perplexity', '--no-generation'];

const records = (dir: string) => readFileSync(join(dir, 'records.jsonl'), 'utf8').trim().split('\n');
const deadPid = () => spawnSync('true').pid!;

test.after(() => rmSync(work, { recursive: true, force: true }));

const base = join(work, 'base');
const shards = [0, 1].map((i) => join(work, `s${i}`));

test('a second run into a directory in use is refused with one line; a dead run\'s lock is taken over and released', () => {
  mkdirSync(base);
  writeFileSync(join(base, '.lock'), `${process.pid}\n`);
  const busy = cli(['eval', ...ARGS, '--out', base]);
  assert.is(busy.status, 2, busy.stderr);
  assert.match(said(busy.stderr)[0]!, new RegExp(`--out .*base is in use by another run \\(process ${process.pid}\\)`));
  assert.equal(readdirSync(base), ['.lock']);
  writeFileSync(join(base, '.lock'), `${deadPid()}\n`);
  const r = cli(['eval', ...ARGS, '--out', base]);
  assert.is(r.status, 0, r.stderr);
  assert.is(records(base).length, 4);
  assert.not.ok(existsSync(join(base, '.lock')), 'released at exit');
});

test('--resume refuses a duplicated line, a line outside --records, {} and another method\'s line, naming file and line', () => {
  const lines = records(base);
  const foreign = JSON.stringify({ ...JSON.parse(lines[0]!), index: 7 });
  const other = JSON.stringify({ ...JSON.parse(lines[0]!), method: 'sgd:layers=0,lr=1' });
  for (const [bad, message] of [[lines[1], /line 5 repeats line 2/], [foreign, /line 5 is not a record and method of this run's selection/], ['{}', /line 5 is not a record/], [other, /line 5 is not a record/]] as const) {
    const dir = join(work, `bad-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.json'), readFileSync(join(base, 'run.json')));
    writeFileSync(join(dir, 'records.jsonl'), [...lines, bad, ''].join('\n'));
    const r = cli(['eval', ...ARGS, '--out', dir, '--resume']);
    assert.is(r.status, 2, r.stderr);
    assert.match(said(r.stderr)[0]!, new RegExp(`records\\.jsonl: ${message.source}`));
  }
});

test('eval-merge: a shard line replaced by a copy of another record\'s is refused, naming the file and line', () => {
  shards.forEach((dir, i) => assert.is(cli(['eval', ...ARGS, '--shard', `${i}/2`, '--out', dir]).status, 0));
  const good = cli(['eval-merge', ...shards, '--out', join(work, 'merged')]);
  assert.is(good.status, 0, good.stderr);
  assert.is(readFileSync(join(work, 'merged', 'summary.json'), 'utf8'), readFileSync(join(base, 'summary.json'), 'utf8'));
  const copy = join(work, 'copy');
  mkdirSync(copy);
  writeFileSync(join(copy, 'run.json'), readFileSync(join(shards[1]!, 'run.json')));
  const theirs = records(shards[0]!);
  writeFileSync(join(copy, 'records.jsonl'), `${[theirs[0], records(shards[1]!)[1]].join('\n')}\n`);
  const r = cli(['eval-merge', shards[0]!, copy, '--out', join(work, 'never')]);
  assert.is(r.status, 2, r.stderr);
  assert.match(said(r.stderr)[0]!, /copy\/records\.jsonl: line 1 is not a record and method of this run's selection/);
  assert.not.ok(existsSync(join(work, 'never')));
});

test('eval-merge that cannot write (a file-size limit, as a full disk) leaves no output directory', () => {
  const out = join(work, 'full');
  const r = cli(['eval-merge', ...shards, '--out', out], 'ulimit -f 1');
  assert.is(r.status, 2, r.stderr);
  assert.match(said(r.stderr)[0]!, /cannot write .*full: .*nothing was written/);
  assert.not.ok(existsSync(out));
  assert.equal(readdirSync(work).filter((f) => f.startsWith('.')), [], 'no temporaries');
});

test('an edit whose eta overflows float32 is recorded as failed, with the reason and the tensor, and counted', () => {
  const out = join(work, 'overflow');
  const r = cli(['eval', '--records', '0', '--method', 'shift:layers=2,lr=1e39', '--no-perplexity', '--no-generation', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const line = JSON.parse(records(out)[0]!);
  assert.match(line.failed, /h\.2\.mlp\.c_proj\.weight infinite or NaN .*smaller learning rate/);
  assert.is(line.efficacy, undefined);
  assert.is(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).methods[0].failed, 1);
});

test('outputs and inputs are checked before any work: /proc, /dev, a file, a missing parent, an empty --wikitext', () => {
  const { file, empty } = inTheWay(work);
  const cases: [string[], RegExp][] = [
    [['eval', ...ARGS, '--out', '/proc/x'], /--out \/proc\/x: a system path/],
    [['eval', ...ARGS, '--out', '/dev/x'], /--out \/dev\/x: a system path/],
    [['eval', ...ARGS, '--out', file], /exists and is not a directory/],
    [['eval', ...ARGS, '--out', join(work, 'no', 'dir')], /no does not exist; create it/],
    [['eval', '--records', '0', '--method', 'original', '--wikitext', empty, '--out', join(work, 'w')], /--wikitext .*empty\.raw: no row of at least 30 characters/],
    [['eval-merge', ...shards, '--out', '/proc/x'], /a system path/],
    [['eval-merge', ...shards, '--out', file], /exists and is not a directory/],
  ];
  assertRefusedEarly(cases);
  assert.not.ok(existsSync('/dev/x'));
  assert.not.ok(existsSync(join(work, 'w')));
});

test.run();
