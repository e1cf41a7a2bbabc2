// Grouped-query attention, full (forward and backward) and KV-cached (forward), against
// test/reference/llama-ops.ts: 6 query heads with 2, 3 and 6 key/value heads, head
// sizes 6, 10, 18, rows 1, 7, 13, and a padded batch. 1e-4 relative to the largest
// entry, as GPT-2's attention cases: dot products of length hd and softmax sums in f32.
import { attention, attentionDecode } from '../../../src/ops/attention.ts';
import { gqaAttentionBackwardRef, gqaAttentionRef } from '../../reference/llama-ops.ts';
import { attentionBackwardRef, attentionRef } from '../../reference/ops.ts';
import { assertClose, gpu, rand, read, withTape, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

const width = (H: number, KV: number, hd: number): number => (H + 2 * KV) * hd;

const gqaCase = (T: number, H: number, KV: number, hd: number): Case => opCase({
  name: `gqa attention forward+backward T=${T} heads=${H}/${KV} hd=${hd}`,
  inputs: [{ shape: [T, width(H, KV, hd)], data: rand(T * width(H, KV, hd), T * 31 + KV * 7 + hd, 2) }],
  dy: rand(T * H * hd, T + KV + hd),
  op: (tape, qkv) => attention(tape, qkv, 1, T, H, KV),
  ref: (qkv) => gqaAttentionRef(qkv, T, H, KV, hd),
  refBackward: (dout, qkv) => [gqaAttentionBackwardRef(qkv, dout, T, H, KV, hd)],
  tol: 1e-4,
});

/** Two sequences padded to one length: each equals its own run, key/value gradients included. */
const gqaBatchCase: Case = {
  name: 'gqa attention batch of 2 with padding equals single runs (heads 6/3, hd 10)',
  run: (k) => withTape(k, async (tape) => {
    const [T, short, H, KV, hd] = [7, 4, 6, 3, 10];
    const w = width(H, KV, hd);
    const qkv = rand(2 * T * w, 91, 2);
    const dout = rand(2 * T * H * hd, 92).map((v, i) => (i >= (T + short) * H * hd ? 0 : v));
    const QKV = tape.own(gpu(k, [2 * T, w], qkv));
    const O = attention(tape, QKV, 2, T, H, KV);
    tape.backward(O, tape.own(gpu(k, [2 * T, H * hd], dout)));
    const [o, dqkv] = await read(k, O, tape.gradOf(QKV)!);
    const seq = (b: number, len: number, x: ArrayLike<number>, cols: number) => Array.prototype.slice.call(x, b * T * cols, (b * T + len) * cols) as number[];
    for (const [b, len] of [[0, T], [1, short]] as const) {
      const q = seq(b, len, qkv, w);
      assertClose(seq(b, len, o!, H * hd), gqaAttentionRef(q, len, H, KV, hd), 1e-4, `batch ${b} out`);
      assertClose(seq(b, len, dqkv!, w), gqaAttentionBackwardRef(q, seq(b, len, dout, H * hd), len, H, KV, hd), 1e-4, `batch ${b} dqkv`);
    }
  }),
};

/** With KV = H the grouped reference is GPT-2's: the two float64 references agree. */
const referencesAgreeCase: Case = {
  name: 'gqa reference with as many key/value heads as query heads equals the multi-head reference',
  run: async () => {
    const [T, H, hd] = [7, 3, 6];
    const qkv = rand(T * 3 * H * hd, 5, 2);
    const dout = rand(T * H * hd, 6);
    assertClose(gqaAttentionRef(qkv, T, H, H, hd), attentionRef(qkv, T, H, hd), 1e-14, 'out');
    assertClose(gqaAttentionBackwardRef(qkv, dout, T, H, H, hd), attentionBackwardRef(qkv, dout, T, H, hd), 1e-14, 'dqkv');
  },
};

/** The KV-cached step: each sequence's new token at last[b] equals the full attention's row there. */
function gqaDecodeCase(lasts: number[], T: number, H: number, KV: number, hd: number): Case {
  const [w, B] = [width(H, KV, hd), lasts.length];
  return opCase({
    name: `gqa attention_decode B=${B} last=[${lasts}] T=${T} heads=${H}/${KV} hd=${hd}`,
    inputs: [{ shape: [B * T, w], data: rand(B * T * w, 19 + T * 31 + hd, 1.5) }, { shape: [B], data: lasts, dtype: 'i32' }],
    op: (tape, cache, last) => attentionDecode(tape, cache, last, B, T, H, KV),
    ref: (qkv) => {
      const expected = new Float64Array(B * H * hd);
      lasts.forEach((n, b) => {
        const rows = qkv.subarray(b * T * w, (b * T + n + 1) * w);
        expected.set(gqaAttentionRef(rows, n + 1, H, KV, hd).subarray(n * H * hd, (n + 1) * H * hd), b * H * hd);
      });
      return expected;
    },
    tol: 1e-4,
  });
}

/** Heads that do not group, or rows that do not split into heads, fail in one line before any dispatch. */
const argumentCase: Case = {
  name: 'gqa attention: heads that do not group and rows that do not split into heads are refused by name',
  run: (k) => withTape(k, async (tape) => {
    const refused = (f: () => unknown, pattern: RegExp) => {
      try {
        f();
      } catch (e) {
        if (pattern.test((e as Error).message)) return;
        throw new Error(`wrong message: ${(e as Error).message}`);
      }
      throw new Error(`not refused: ${pattern}`);
    };
    const qkv = tape.own(gpu(k, [7, 140], rand(7 * 140, 1)));
    refused(() => attention(tape, qkv, 1, 7, 6, 4), /6 query heads do not divide into 4 key\/value heads/);
    refused(() => attention(tape, qkv, 1, 7, 6, 3), /head size 11\.66\d+ \(rows of 140, 6 query and 3 key\/value heads\)/);
    refused(() => attentionDecode(tape, qkv, tape.own(gpu(k, [1], [3], 'i32')), 1, 7, 6, 4), /do not divide/);
  }),
};

export const gqaCases: Case[] = [
  argumentCase,
  gqaCase(1, 6, 2, 6), gqaCase(7, 6, 3, 10), gqaCase(13, 6, 2, 18), gqaCase(13, 6, 3, 6), gqaCase(7, 6, 6, 10), gqaCase(7, 6, 1, 18),
  gqaBatchCase,
  referencesAgreeCase,
  gqaDecodeCase([0], 1, 6, 2, 6), gqaDecodeCase([6], 7, 6, 3, 10), gqaDecodeCase([12, 0, 5], 13, 6, 2, 18),
];
