// Logit lens LL(v) = softmax(ln_f(v) . D) (paper Eq. 7) of many d-dimensional vectors
// at once: one matmul against D per chunk of rows, then the vocabulary kernels pick
// top-k / bottom-k and the ranks of watched ids on the GPU. Only k ids, k scores,
// a log-sum-exp and a few ranks per vector come back.
import { Tape } from '../autograd/tape.ts';
import { readAll } from '../gpu/buffers.ts';
import type { Gpt2 } from '../model/gpt2.ts';
import { layernorm } from '../ops/layernorm.ts';
import { normalizeRows } from '../ops/rows.ts';
import { unembed } from '../ops/unembed.ts';
import { rankOf, topk } from '../ops/vocab.ts';
import { softmaxXent } from '../ops/xent.ts';
import type { Tensor } from '../tensor.ts';

export interface LensOptions {
  /** How many most and least probable tokens to keep. */
  k: number;
  /** Apply the lens to v / |v| (paper App. F): removes ln_f's epsilon artefact on small vectors. */
  normalized: boolean;
}

export interface IdProb {
  id: number;
  prob: number;
}

export interface Projection {
  top: IdProb[];
  bottom: IdProb[];
  /** 1-based rank of each watched id counted from the most probable ... */
  rankFromTop: number[];
  /** ... and from the least probable. */
  rankFromBottom: number[];
}

/** Rows per chunk: bounds the [rows, vocab] logits buffer (64 x 50,257 x 4 B = 13 MB). */
const CHUNK = 64;

/**
 * Projects every row of `vectors` [m, d]. `watched` ids (the target, the original
 * answer) get their ranks in each row's distribution.
 */
export async function logitLens(model: Gpt2, vectors: Tensor, opts: LensOptions, watched: readonly number[]): Promise<Projection[]> {
  const k = model.k;
  const d = model.config.nEmbd;
  if (vectors.cols !== d) throw new RangeError(`logit lens needs ${d}-dimensional vectors, got ${vectors.cols}`);
  const out: Projection[] = [];
  // The vocabulary kernels take the logits whole, so a chunk's logits must fit one binding.
  const V = model.param(model.headName).rows;
  const chunkRows = Math.max(1, Math.min(CHUNK, Math.floor(k.bindLimit / (V * 4))));
  for (let start = 0; start < vectors.rows; start += chunkRows) {
    const rows = Math.min(chunkRows, vectors.rows - start);
    const tape = new Tape(k);
    try {
      const chunk = tape.zeros([rows, d], 'f32', 'lens.chunk');
      k.copy(vectors.buffer, start * d * 4, chunk.buffer, 0, rows * d * 4);
      const input = opts.normalized ? tape.own(normalizeRows(k, chunk)) : chunk;
      const h = layernorm(tape, input, model.param('ln_f.weight'), model.param('ln_f.bias'), model.config.eps);
      const logits = unembed(tape, h, model.param(model.headName));
      const { lse } = softmaxXent(tape, logits, tape.constant([rows], new Array<number>(rows).fill(-1), 'i32'));
      const top = topk(k, logits, opts.k, 'top');
      const bottom = topk(k, logits, opts.k, 'bottom');
      const ranks = watched.flatMap((id) => {
        const ids = tape.constant([rows], new Array<number>(rows).fill(id), 'i32');
        return [tape.own(rankOf(k, logits, ids, 'top')), tape.own(rankOf(k, logits, ids, 'bottom'))];
      });
      [top.ids, top.scores, bottom.ids, bottom.scores].forEach((t) => tape.own(t));
      const [topIds, topScores, botIds, botScores, sums, ...rankData] = await readAll(k, [top.ids, top.scores, bottom.ids, bottom.scores, lse, ...ranks]);
      for (let r = 0; r < rows; r++) {
        const pick = (ids: ArrayLike<number>, scores: ArrayLike<number>) =>
          Array.from({ length: opts.k }, (_, j) => ({ id: ids[r * opts.k + j]!, prob: Math.exp(scores[r * opts.k + j]! - sums![r]!) }));
        out.push({
          top: pick(topIds!, topScores!),
          bottom: pick(botIds!, botScores!),
          rankFromTop: watched.map((_, w) => rankData[2 * w]![r]! + 1),
          rankFromBottom: watched.map((_, w) => rankData[2 * w + 1]![r]! + 1),
        });
      }
    } finally {
      tape.dispose();
    }
  }
  return out;
}
