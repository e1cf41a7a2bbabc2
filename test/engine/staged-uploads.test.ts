// Weights reach the device through a few reused staging buffers (src/gpu/buffers.ts,
// StagedUploads): with chunks far smaller than a tensor, each staging buffer is filled
// many times, a tensor's chunk boundaries fall mid-row, and split tensors (blocks of
// rows) are filled block by block; every byte must land where it belongs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { readBits, readF32, StagedUploads } from '../../src/gpu/buffers.ts';
import type { DType } from '../../src/tensor.ts';
import { uploadChunk } from '../../src/model/load.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { writeRandomCheckpoint, type StorageDtype } from '../checkpoint.ts';
import type { Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { rmSync } from 'node:fs';

/** Uploads `bytes` as a tensor, `fill` copying from it; returns the tensor and the offsets `fill` was asked for. */
async function stage(uploads: StagedUploads, shape: number[], bytes: Uint8Array, dtype: DType) {
  const asked: number[] = [];
  const t = await uploads.tensor(shape, {
    read: async (target, from) => {
      asked.push(from, target.length);
      target.set(bytes.subarray(from, from + target.length));
    },
  }, 'staged', dtype);
  return { t, asked };
}

/** After a failed upload, the staging buffers still carry the next tensor whole. */
async function nextUploadWorks(uploads: StagedUploads): Promise<void> {
  const f32 = Float32Array.from({ length: 10 }, (_, i) => i + 1);
  const { t } = await stage(uploads, [2, 5], new Uint8Array(f32.buffer), 'f32');
  assert.equal(Array.from(await readF32(await getEngine(), t)), Array.from(f32));
  t.dispose();
}

for (const bindLimit of [undefined, 64]) {
  test(`f32 [13, 7] and packed f16 [7, 13] (odd length) in 44-byte chunks through 3 staging buffers${bindLimit ? `, split at ${bindLimit} bytes` : ''}`, async () => {
    const k = await getEngine();
    const saved = k.bindLimit;
    if (bindLimit) k.bindLimit = bindLimit;
    const uploads = new StagedUploads(k, 44, 3);
    try {
      const f32 = Float32Array.from({ length: 13 * 7 }, (_, i) => i * 0.5 - 7);
      const a = await stage(uploads, [13, 7], new Uint8Array(f32.buffer), 'f32');
      // Unsplit: 364 bytes as 8 chunks of 44 and one of 12, each asked for once, in order.
      if (!bindLimit) assert.equal(a.asked, [0, 44, 44, 44, 88, 44, 132, 44, 176, 44, 220, 44, 264, 44, 308, 44, 352, 12]);
      else assert.is(a.t.blocks.length > 1, true);
      assert.equal(Array.from(await readF32(k, a.t)), Array.from(f32));
      const bits = Uint16Array.from({ length: 7 * 13 }, (_, i) => 0x3c00 + i);
      const b = await stage(uploads, [7, 13], new Uint8Array(bits.buffer), 'f16');
      assert.equal(Array.from(await readBits(k, b.t)), Array.from(bits));
      a.t.dispose();
      b.t.dispose();
    } finally {
      uploads.dispose();
      k.bindLimit = saved;
    }
  });
}

test('a fill that throws leaves no tensor behind and the next upload still works', async () => {
  const k = await getEngine();
  const uploads = new StagedUploads(k, 16, 2);
  try {
    const failed = await uploads.tensor([3, 5], {
      read: async (_, from) => {
        if (from >= 32) throw new Error('bad value');
      },
    }).then(() => null, (e: Error) => e.message);
    assert.is(failed, 'bad value');
    await nextUploadWorks(uploads);
  } finally {
    uploads.dispose();
  }
});

test('each chunk is checked after its read and while the next one is read, with the bytes read', async () => {
  const k = await getEngine();
  const uploads = new StagedUploads(k, 16, 3);
  try {
    const f32 = Float32Array.from({ length: 11 }, (_, i) => i - 5);
    const bytes = new Uint8Array(f32.buffer);
    const events: string[] = [];
    const t = await uploads.tensor([11], {
      read: async (target, from) => {
        events.push(`read ${from}`);
        target.set(bytes.subarray(from, from + target.length));
      },
      check: (chunk, from) => {
        events.push(`check ${from}`);
        assert.equal(Array.from(chunk), Array.from(bytes.subarray(from, from + chunk.length)));
      },
    });
    assert.equal(events, ['read 0', 'read 16', 'check 0', 'read 32', 'check 16', 'check 32']);
    assert.equal(Array.from(await readF32(k, t)), Array.from(f32));
    t.dispose();
  } finally {
    uploads.dispose();
  }
});

test('a check that fails while the next chunk is still being read waits for that read, leaves no tensor, and the next upload works', async () => {
  const k = await getEngine();
  const uploads = new StagedUploads(k, 16, 3);
  try {
    let pending = 0;
    const failed = await uploads.tensor([4, 3], {
      read: async () => {
        pending++;
        await new Promise((r) => setTimeout(r, 20));
        pending--;
      },
      check: (_, from) => {
        if (from === 16) throw new Error('bad value');
      },
    }).then(() => null, (e: Error) => `${e.message}, ${pending} reads pending`);
    assert.is(failed, 'bad value, 0 reads pending');
    await nextUploadWorks(uploads);
  } finally {
    uploads.dispose();
  }
});

// Odd sizes; 52-byte chunks cut every weight of it into several.
const CFG: Gpt2Sizes = { nLayer: 2, nHead: 3, nEmbd: 12, nPositions: 16, vocabSize: 50, nInner: 20, eps: 1e-5 };

for (const dtype of ['F32', 'F16'] as StorageDtype[]) {
  test(`loading ${dtype} in 52-byte chunks: the weights land whole, and a damaged one is named at its element in the tensor, not in the chunk`, async () => {
    const k = await getEngine();
    const saved = uploadChunk.bytes;
    uploadChunk.bytes = 52;
    const good = await writeRandomCheckpoint(CFG, 5, { dtype });
    const bad = await writeRandomCheckpoint(CFG, 5, { dtype, edit: (p) => { p['h.1.mlp.c_fc.weight']![203] = NaN; } });
    try {
      const { model } = await loadModelPath(k, good.dir);
      // The embedding, 50 x 12 values: 2,400 bytes as F32, 1,200 as F16.
      const got = await readF32(k, model.params.get('embed.weight')!);
      const want = good.params['wte.weight']!;
      assert.equal(Array.from(got), Array.from(want).map((x) => Math.fround(x)));
      model.dispose();
      const failed = await loadModelPath(k, bad.dir).then(() => '', (e: Error) => e.message);
      assert.match(failed, /tensor h\.1\.mlp\.c_fc\.weight holds NaN at element 203; the weights are damaged/);
    } finally {
      uploadChunk.bytes = saved;
      for (const c of [good, bad]) rmSync(c.dir, { recursive: true, force: true });
    }
  });
}

test.run();
