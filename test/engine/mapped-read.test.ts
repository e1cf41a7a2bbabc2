// Reading f32 tensors mapped, without a host copy (src/gpu/buffers.ts, withMapped):
// several tensors of odd shapes in one staging buffer, split tensors (blocks of rows)
// put back together, each view holding exactly its tensor's values; the views are
// gone once `use` settles, and the staging buffer with them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { readF32, upload, withMapped } from '../../src/gpu/buffers.ts';

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed + i) * 1e3) / 7);

for (const bindLimit of [undefined, 64]) {
  test(`f32 [1, 1], [7, 13], [13, 7], [3, 1] and [1, 101] in one read${bindLimit ? `, split at ${bindLimit} bytes` : ''}: each view is its tensor`, async () => {
    const k = await getEngine();
    const saved = k.bindLimit;
    if (bindLimit) k.bindLimit = bindLimit;
    const shapes = [[1, 1], [7, 13], [13, 7], [3, 1], [1, 101]];
    const data = shapes.map(([r, c], i) => values(r! * c!, i * 17));
    const tensors = shapes.map((s, i) => upload(k, s, data[i]!, 'f32', `t${i}`));
    try {
      if (bindLimit) assert.ok(tensors[1]!.blocks.length > 1 && tensors[2]!.blocks.length > 1, 'the larger tensors are split');
      let kept: Float32Array[] = [];
      const sum = await withMapped(k, tensors, async (views) => {
        views.forEach((v, i) => assert.equal(Array.from(v), Array.from(data[i]!), `tensor ${i}`));
        await new Promise((r) => setTimeout(r, 1)); // still mapped across an await inside `use`
        kept = views;
        return views.reduce((s, v) => s + v.length, 0);
      });
      assert.is(sum, data.reduce((s, d) => s + d.length, 0));
      assert.ok(kept.every((v) => v.length === 0), 'views are detached once use settles');
      for (const [i, t] of tensors.entries()) assert.equal(Array.from(await readF32(k, t)), Array.from(data[i]!), 'the tensors themselves are untouched');
    } finally {
      tensors.forEach((t) => t.dispose());
      k.bindLimit = saved;
    }
  });
}

test('an error inside use still frees the staging buffer and reaches the caller; packed tensors are refused', async () => {
  const k = await getEngine();
  const t = upload(k, [2, 3], values(6, 1));
  const half = upload(k, [2, 2], Uint16Array.of(0x3c00, 0, 0, 0x3c00), 'f16');
  try {
    let seen: Float32Array | undefined;
    await withMapped(k, [t], (views) => {
      seen = views[0];
      throw new Error('boom');
    }).then(() => assert.unreachable('should throw'), (e: Error) => assert.is(e.message, 'boom'));
    assert.is(seen!.length, 0);
    await withMapped(k, [half], () => undefined).then(() => assert.unreachable('should throw'), (e: Error) => assert.match(e.message, /is f16: only f32 tensors are read mapped/));
    assert.is(await withMapped(k, [], (views) => views.length), 0);
  } finally {
    t.dispose();
    half.dispose();
  }
});

test.run();
