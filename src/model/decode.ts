// Sampled or greedy continuation with a key/value cache: the prompts run once through
// the model (their attn_in rows, q/k/v, kept per layer), then each new token is one row per
// sequence, attending to the cached rows. 100 tokens cost one prompt pass plus 100
// one-row passes instead of 100 full passes. `cache: false` runs the same loop with
// full forward passes (the reference the cached path is tested against), whose
// window slides when a sequence outgrows the context. Both run Model.blocks: the
// cached path only supplies its own attention.
import { Tape } from '../autograd/tape.ts';
import { readAll, zeros } from '../gpu/buffers.ts';
import { topk } from '../gpu/vocab.ts';
import { attention, attentionDecode } from '../ops/attention.ts';
import { selectRows } from '../ops/embedding.ts';
import type { Tensor } from '../tensor.ts';
import type { Model } from './model.ts';
import { pick, seededRandom } from './sample.ts';

export interface DecodeOptions {
  /** New tokens per prompt; with the cache, prompt + new tokens must fit the context. */
  newTokens: readonly number[];
  /** 1 is greedy; k > 1 samples among the k most likely tokens. */
  topK?: number;
  temperature?: number;
  seed?: number;
  /** Use the key/value cache (default true). */
  cache?: boolean;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 1 (default) is greedy; k > 1 samples among the k most likely tokens. */
  topK?: number;
  temperature?: number;
  seed?: number;
}

/** The same count of new tokens for every prompt, by full passes: prompts longer than the context keep their tail. */
export function generate(model: Model, prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<number[][]> {
  const { maxNewTokens, ...rest } = opts;
  return decode(model, prompts, { ...rest, newTokens: prompts.map(() => maxNewTokens), cache: false });
}

/** Logits rows -> the top-k ids and scores of each row, read back. */
async function candidates(model: Model, tape: Tape, x: Tensor, rows: readonly number[], k: number): Promise<[Int32Array, Float32Array]> {
  const picked = selectRows(tape, model.finalNorm(tape, x), tape.constant([rows.length], rows, 'i32'));
  const best = topk(model.k, model.logits(tape, picked), k, 'top');
  tape.own(best.ids);
  tape.own(best.scores);
  const [ids, scores] = await readAll(model.k, [best.ids, best.scores]);
  return [ids as Int32Array, scores as Float32Array];
}

/** Returns the new tokens of each prompt. */
export async function decode(model: Model, prompts: readonly (readonly number[])[], opts: DecodeOptions): Promise<number[][]> {
  const k = opts.topK ?? 1;
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError('temperature must be > 0');
  if (prompts.length === 0 || prompts.length !== opts.newTokens.length) throw new RangeError('decode: one count of new tokens per prompt, and at least one prompt');
  const context = model.config.nPositions;
  prompts.forEach((p, i) => {
    const n = opts.newTokens[i]!;
    if (p.length === 0) throw new RangeError(`prompt ${i} is empty`);
    if (!Number.isInteger(n) || n < 0 || (opts.cache !== false && p.length + n > context)) throw new RangeError(`prompt ${i}: ${p.length} tokens + ${n} new ones exceed the context of ${context}`);
  });
  const random = seededRandom(opts.seed ?? 0);
  const seqs = prompts.map((p) => [...p]);
  const added = prompts.map((): number[] => []);
  const steps = Math.max(...opts.newTokens);
  const next = (seqNo: number, ids: Int32Array, scores: Float32Array) => {
    if (added[seqNo]!.length >= opts.newTokens[seqNo]!) return;
    const t = pick(ids.subarray(seqNo * k, (seqNo + 1) * k), scores.subarray(seqNo * k, (seqNo + 1) * k), temperature, random);
    seqs[seqNo]!.push(t);
    added[seqNo]!.push(t);
  };
  const run = opts.cache === false ? stepsFull : stepsCached;
  await run(model, seqs, steps, k, (ids, scores) => seqs.forEach((_, i) => next(i, ids, scores)));
  return added;
}

type Sink = (ids: Int32Array, scores: Float32Array) => void;

async function stepsFull(model: Model, seqs: number[][], steps: number, k: number, sink: Sink): Promise<void> {
  for (let s = 0; s < steps; s++) {
    const tape = new Tape(model.k);
    try {
      const windows = seqs.map((q) => q.slice(-model.config.nPositions));
      const { logits } = model.forward(tape, windows, windows.map((w, seq) => ({ seq, position: w.length - 1 })));
      const best = topk(model.k, logits, k, 'top');
      tape.own(best.ids);
      tape.own(best.scores);
      const [ids, scores] = await readAll(model.k, [best.ids, best.scores]);
      sink(ids as Int32Array, scores as Float32Array);
    } finally {
      tape.dispose();
    }
  }
}

async function stepsCached(model: Model, seqs: number[][], steps: number, k: number, sink: Sink): Promise<void> {
  const { nLayer, nHead, nKvHead, headDim } = model.config;
  const B = seqs.length;
  const lengths = seqs.map((q) => q.length);
  const T0 = Math.max(...lengths);
  // Rows for every position any sequence can reach; a sequence that stops early
  // keeps decoding into its spare rows (its samples are simply not taken).
  const T = T0 + steps;
  // Whole fused q|k|v rows of attn_in: (nHead + 2 nKvHead) heads.
  const width = (nHead + 2 * nKvHead) * headDim;
  const caches = Array.from({ length: nLayer }, (_, l) => zeros(model.k, [B * T, width], 'f32', `kv.${l}`));
  const rowBytes = width * 4;
  try {
    for (let s = 0; s < steps; s++) {
      const tape = new Tape(model.k);
      try {
        if (s === 0) {
          const ids = seqs.flatMap((q) => [...q, ...new Array<number>(T0 - q.length).fill(0)]);
          const positions = seqs.flatMap(() => Array.from({ length: T0 }, (_, t) => t));
          const x = model.blocks(tape, ids, positions, B, T0, { attend: (l, qkv) => {
            for (let b = 0; b < B; b++) model.k.copy(qkv.buffer, b * T0 * rowBytes, caches[l]!.buffer, b * T * rowBytes, T0 * rowBytes);
            return attention(tape, qkv, B, T0, nHead, nKvHead);
          } });
          sink(...(await candidates(model, tape, x, lengths.map((n, b) => b * T0 + n - 1), k)));
        } else {
          const positions = seqs.map((q, b) => Math.min(q.length, lengths[b]! + s) - 1);
          const ids = seqs.map((q, b) => q[positions[b]!]!);
          const last = tape.constant([B], positions, 'i32');
          const x = model.blocks(tape, ids, positions, B, 1, { attend: (l, qkv) => {
            for (let b = 0; b < B; b++) model.k.copy(qkv.buffer, b * rowBytes, caches[l]!.buffer, (b * T + positions[b]!) * rowBytes, rowBytes);
            return attentionDecode(tape, caches[l]!, last, B, T, nHead, nKvHead);
          } });
          sink(...(await candidates(model, tape, x, seqs.map((_, b) => b), k)));
        }
      } finally {
        tape.dispose();
      }
    }
  } finally {
    caches.forEach((c) => c.dispose());
  }
}
