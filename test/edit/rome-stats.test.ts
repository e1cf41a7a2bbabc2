// Second-moment statistics (src/edit/located/second-moment.ts) against a float64 CPU
// computation on a tiny random model (odd sizes, a partial last batch, flushes
// between batches); the cache file's checks; and `backward-lens stats` collecting,
// then reusing, then refusing a cache made for another model.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileSha256, filesSha256, momentFile, readMoment, StatsCacheError, writeMoment } from '../../src/edit/located/moment-cache-node.ts';
import { secondMoments, tokenWindows } from '../../src/edit/located/second-moment.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { openRandomModel, writeRandomCheckpoint } from '../checkpoint.ts';
import { assertClose } from '../helpers.ts';
import { gpt2BackwardRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';
import { mulberry32Ref } from '../reference/ops.ts';
import { secondMomentRef } from '../reference/rome.ts';

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 3, nEmbd: 15, nPositions: 16, vocabSize: 50257, nInner: 37, eps: 1e-5 };
const work = mkdtempSync(join(tmpdir(), 'bl-stats-'));
let loaded: LoadedModel;
let params: Gpt2ParamsRef;
let close: () => void;

test.before(async () => {
  ({ loaded, params, close } = await openRandomModel(CFG, 11));
});
test.after(() => {
  close();
  rmSync(work, { recursive: true, force: true });
});

test('tokenWindows: whole windows only, capped by tokens', () => {
  assert.equal(tokenWindows([1, 2, 3, 4, 5, 6, 7], 3), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(tokenWindows([1, 2, 3, 4, 5, 6, 7], 3, 5), [[1, 2, 3]]);
});

/** E[k kᵀ] of FF2's input on `model` against the float64 reference on `ref`, its stored values. */
async function checkMoments(model: LoadedModel['model'], ref: Gpt2ParamsRef): Promise<void> {
  const r = mulberry32Ref(3);
  const T = 7;
  const windows = Array.from({ length: 5 }, () => Array.from({ length: T }, () => Math.floor(r() * 50257)));
  const { moments, tokens } = await secondMoments(model, windows, [0, 1], { batch: 2, flushTokens: 10 });
  assert.is(tokens, 35);
  const f = CFG.nInner;
  for (const layer of [0, 1]) {
    const want = secondMomentRef(windows, f, (ids) => gpt2BackwardRef(CFG, ref, ids, [{ position: 0, token: 0 }]).factors[`h.${layer}.mlp.c_proj`]!.x);
    assertClose(moments.get(layer)!, want, 1e-5, `layer ${layer}`);
  }
}

test('E[k kᵀ] of FF2 input equals the float64 reference (2 layers, f 37, 5 windows of 7 in batches of 2)', async () => {
  await checkMoments(loaded.model, params);
});

for (const dtype of ['F16', 'BF16'] as const) {
  test(`E[k kᵀ] on a ${dtype} checkpoint (its matrices 16-bit on the device) equals the float64 reference of its stored values`, async () => {
    const half = await openRandomModel(CFG, 11, dtype);
    try {
      await checkMoments(half.loaded.model, half.params);
    } finally {
      half.close();
    }
  });
}

async function rejects(run: () => Promise<unknown>, check: (e: Error) => boolean, what: string): Promise<void> {
  try {
    await run();
  } catch (e) {
    assert.ok(check(e as Error), `${what}: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${what}: did not throw`);
}

test('cache: read back with its metadata; another model or layer is refused', async () => {
  const dir = join(work, 'cache');
  const f = 3;
  const moment = Float64Array.from([2, 0.5, 0, 0.5, 1, 0, 0, 0, 3]);
  await writeMoment(dir, moment, f, { model_sha256: 'a'.repeat(64), layer: 1, corpus: 'test', tokens: 9, dtype: 'F32' });
  const back = await readMoment(dir, 1, 'a'.repeat(64), f);
  assert.equal(Array.from(back!.moment), Array.from(moment));
  assert.is(back!.meta.tokens, 9);
  assert.is(await readMoment(dir, 0, 'a'.repeat(64), f), undefined);
  await rejects(() => readMoment(dir, 1, 'b'.repeat(64), f), (e) => e instanceof StatsCacheError && /another model/.test(e.message), 'other model');
  copyFileSync(momentFile(dir, 1), momentFile(dir, 2));
  await rejects(() => readMoment(dir, 2, 'a'.repeat(64), f), (e) => e instanceof StatsCacheError && /layer 1, not 2/.test(e.message), 'other layer');
});

test("a model's identity: one file's sha256, or its shards' contents in order (a changed shard is another model)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bl-sha-'));
  try {
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    writeFileSync(a, 'first shard ');
    writeFileSync(b, 'second shard');
    assert.is(await fileSha256(a), createHash('sha256').update('first shard ').digest('hex'));
    assert.is(await filesSha256([a]), await fileSha256(a));
    const both = await filesSha256([a, b]);
    assert.is(both, createHash('sha256').update('first shard second shard').digest('hex'));
    writeFileSync(b, 'second shard, edited');
    assert.is.not(await filesSha256([a, b]), both);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stats CLI: collects, then reuses; a cache of another model is refused with one line, exit 2', async () => {
  const a = (await writeRandomCheckpoint(CFG, 12)).dir;
  const b = (await writeRandomCheckpoint(CFG, 13)).dir;
  const data = join(work, 'wiki.raw');
  const row = ' The tower is 324 metres tall , about the same height as an 81 @-@ storey building .';
  writeFileSync(data, Array.from({ length: 130 }, (_, i) => `${row} ${i}`).join('\n'));
  const cache = join(work, 'cli-cache');
  const run = (model: string, ...extra: string[]) => spawnSync(process.execPath, ['dist/cli.js', 'stats', '--layers', '1', '--model', model, '--data', data, '--cache', cache, ...extra], { encoding: 'utf8' });
  const first = run(a);
  assert.is(first.status, 0, first.stderr);
  assert.match(first.stderr, /collecting statistics of FF2's input at layer 1/);
  assert.match(first.stdout, /layer 1: .*mom2-layer1\.safetensors \(\d+ tokens, collected\)/);
  const second = run(a);
  assert.is(second.status, 0, second.stderr);
  assert.match(second.stderr, /reusing statistics from .*mom2-layer1\.safetensors/);
  const other = run(b);
  assert.is(other.status, 2);
  const errors = other.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading'));
  assert.is(errors.length, 1, other.stderr);
  assert.match(errors[0]!, /holds statistics of another model/);
  const bad = run(a, '--tokens', 'many');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--tokens "many"/);
  rmSync(a, { recursive: true, force: true });
  rmSync(b, { recursive: true, force: true });
});

test.run();
