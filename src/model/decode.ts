// Sampled or greedy continuation with a key/value cache: the prompts run once through
// the model (their c_attn rows kept per layer), then each new token is one row per
// sequence, attending to the cached rows. 100 tokens cost one prompt pass plus 100
// one-row passes instead of 100 full passes. `cache: false` runs the same loop with
// full forward passes, the reference the cached path is tested against.
import { Tape } from '../autograd/tape.ts';
import { readAll, zeros } from '../gpu/buffers.ts';
import { attention, attentionDecode } from '../ops/attention.ts';
import { embed, selectRows } from '../ops/embedding.ts';
import { layernorm } from '../ops/layernorm.ts';
import { linear } from '../ops/linear.ts';
import { activate, add } from '../ops/pointwise.ts';
import { unembed } from '../ops/unembed.ts';
import { topk } from '../gpu/vocab.ts';
import type { Tensor } from '../tensor.ts';
import { pick, seededRandom } from './generate.ts';
import type { Gpt2 } from './gpt2.ts';

export interface DecodeOptions {
  /** New tokens per prompt; prompt + new tokens must fit the context. */
  newTokens: readonly number[];
  /** 1 is greedy; k > 1 samples among the k most likely tokens. */
  topK?: number;
  temperature?: number;
  seed?: number;
  /** Use the key/value cache (default true). */
  cache?: boolean;
}

type Attend = (layer: number, qkv: Tensor) => Tensor;

/** The blocks of Gpt2.forward (the config's activation included) with the attention supplied by the caller; returns ln_f(x). */
function blocks(tape: Tape, model: Gpt2, ids: readonly number[], positions: readonly number[], attend: Attend): Tensor {
  const c = model.config;
  const p = (name: string) => model.param(name);
  let x = embed(tape, p('wte.weight'), p('wpe.weight'), tape.constant([ids.length], ids, 'i32'), tape.constant([positions.length], positions, 'i32'));
  for (let l = 0; l < c.nLayer; l++) {
    const h = (name: string) => p(`h.${l}.${name}`);
    const qkv = linear(tape, `h.${l}.attn.c_attn`, layernorm(tape, x, h('ln_1.weight'), h('ln_1.bias'), c.eps), h('attn.c_attn.weight'), h('attn.c_attn.bias'));
    x = add(tape, x, linear(tape, `h.${l}.attn.c_proj`, attend(l, qkv), h('attn.c_proj.weight'), h('attn.c_proj.bias')));
    const ff1 = linear(tape, `h.${l}.mlp.c_fc`, layernorm(tape, x, h('ln_2.weight'), h('ln_2.bias'), c.eps), h('mlp.c_fc.weight'), h('mlp.c_fc.bias'));
    x = add(tape, x, linear(tape, `h.${l}.mlp.c_proj`, activate(tape, ff1, c.activation ?? 'gelu_new'), h('mlp.c_proj.weight'), h('mlp.c_proj.bias')));
  }
  return layernorm(tape, x, p('ln_f.weight'), p('ln_f.bias'), c.eps);
}

/** Logits rows -> the top-k ids and scores of each row, read back. */
async function candidates(model: Gpt2, tape: Tape, hidden: Tensor, rows: readonly number[], k: number): Promise<[Int32Array, Float32Array]> {
  const picked = selectRows(tape, hidden, tape.constant([rows.length], rows, 'i32'));
  const best = topk(model.k, unembed(tape, picked, model.param(model.headName)), k, 'top');
  tape.own(best.ids);
  tape.own(best.scores);
  const [ids, scores] = await readAll(model.k, [best.ids, best.scores]);
  return [ids as Int32Array, scores as Float32Array];
}

/** Returns the new tokens of each prompt. */
export async function decode(model: Gpt2, prompts: readonly (readonly number[])[], opts: DecodeOptions): Promise<number[][]> {
  const k = opts.topK ?? 1;
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError('temperature must be > 0');
  if (prompts.length === 0 || prompts.length !== opts.newTokens.length) throw new RangeError('decode: one count of new tokens per prompt, and at least one prompt');
  const context = model.config.nPositions;
  prompts.forEach((p, i) => {
    const n = opts.newTokens[i]!;
    if (p.length === 0) throw new RangeError(`prompt ${i} is empty`);
    if (!Number.isInteger(n) || n < 0 || p.length + n > context) throw new RangeError(`prompt ${i}: ${p.length} tokens + ${n} new ones exceed the context of ${context}`);
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

async function stepsFull(model: Gpt2, seqs: number[][], steps: number, k: number, sink: Sink): Promise<void> {
  for (let s = 0; s < steps; s++) {
    const tape = new Tape(model.k);
    try {
      const { logits } = model.forward(tape, seqs, seqs.map((q, seq) => ({ seq, position: q.length - 1 })));
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

async function stepsCached(model: Gpt2, seqs: number[][], steps: number, k: number, sink: Sink): Promise<void> {
  const { nLayer, nHead, nEmbd: d } = model.config;
  const B = seqs.length;
  const lengths = seqs.map((q) => q.length);
  const T0 = Math.max(...lengths);
  // Rows for every position any sequence can reach; a sequence that stops early
  // keeps decoding into its spare rows (its samples are simply not taken).
  const T = T0 + steps;
  const caches = Array.from({ length: nLayer }, (_, l) => zeros(model.k, [B * T, 3 * d], 'f32', `kv.${l}`));
  const rowBytes = 3 * d * 4;
  try {
    for (let s = 0; s < steps; s++) {
      const tape = new Tape(model.k);
      try {
        if (s === 0) {
          const ids = seqs.flatMap((q) => [...q, ...new Array<number>(T0 - q.length).fill(0)]);
          const positions = seqs.flatMap(() => Array.from({ length: T0 }, (_, t) => t));
          const hidden = blocks(tape, model, ids, positions, (l, qkv) => {
            for (let b = 0; b < B; b++) model.k.copy(qkv.buffer, b * T0 * rowBytes, caches[l]!.buffer, b * T * rowBytes, T0 * rowBytes);
            return attention(tape, qkv, B, T0, nHead);
          });
          sink(...(await candidates(model, tape, hidden, lengths.map((n, b) => b * T0 + n - 1), k)));
        } else {
          const positions = seqs.map((q, b) => Math.min(q.length, lengths[b]! + s) - 1);
          const ids = seqs.map((q, b) => q[positions[b]!]!);
          const last = tape.constant([B], positions, 'i32');
          const hidden = blocks(tape, model, ids, positions, (l, qkv) => {
            for (let b = 0; b < B; b++) model.k.copy(qkv.buffer, b * rowBytes, caches[l]!.buffer, (b * T + positions[b]!) * rowBytes, rowBytes);
            return attentionDecode(tape, caches[l]!, last, B, T, nHead);
          });
          sink(...(await candidates(model, tape, hidden, seqs.map((_, b) => b), k)));
        }
      } finally {
        tape.dispose();
      }
    }
  } finally {
    caches.forEach((c) => c.dispose());
  }
}
