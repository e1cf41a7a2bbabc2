// What the model says next: the k most probable next tokens after each prompt, and
// the probability and rank of a watched token (an edit's target). One batched
// forward pass with no tape gradient; the rows of logits are read back and ranked
// on the CPU (k and one rank per prompt are cheap next to the pass).
import { Tape } from '../autograd/tape.ts';
import { readAll } from '../gpu/buffers.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';
import type { Model } from './model.ts';

export interface TokenChance {
  id: number;
  text: string;
  prob: number;
}

export interface RankedToken extends TokenChance {
  /** 1 = the most probable next token. */
  rank: number;
}

export interface Prediction {
  /** The k most probable next tokens, most probable first. */
  top: TokenChance[];
  /** The watched token, when one was given for this sequence. */
  watched?: RankedToken;
}

/** Predictions after each token sequence; `watch[i]` (optional) is ranked for sequence i. */
export async function predictNext(model: Model, tokenizer: Tokenizer, sequences: readonly (readonly number[])[], k: number, watch: readonly (number | undefined)[] = []): Promise<Prediction[]> {
  const V = model.config.vocabSize;
  if (!Number.isInteger(k) || k < 1 || k > V) throw new RangeError(`k = ${k}: choose 1-${V} tokens`);
  const tape = new Tape(model.k);
  try {
    const out = model.forward(tape, sequences, sequences.map((s, seq) => ({ seq, position: s.length - 1 })));
    const [logits, lse] = (await readAll(model.k, [out.logits, out.lse])) as Float32Array[];
    return sequences.map((_, i) => {
      const row = logits!.subarray(i * V, (i + 1) * V);
      const chance = (id: number): TokenChance => ({ id, text: tokenizer.tokenText(id), prob: Math.exp(row[id]! - lse![i]!) });
      const w = watch[i];
      return { top: topIds(row, k).map(chance), ...(w === undefined ? {} : { watched: { ...chance(w), rank: rankOf(row, w) } }) };
    });
  } finally {
    tape.dispose();
  }
}

/** The k most probable next tokens after `prompt`. */
export async function nextTokens(model: Model, tokenizer: Tokenizer, prompt: string, k = 5): Promise<TokenChance[]> {
  return (await predictNext(model, tokenizer, [promptIds(tokenizer, prompt)], k))[0]!.top;
}

/** Ids of the k largest scores, largest first; ties go to the lower id. */
function topIds(row: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let id = 0; id < row.length; id++) {
    if (best.length === k && !(row[id]! > row[best[k - 1]!]!)) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && row[id]! > row[best[at - 1]!]!) at--;
    best.splice(at, 0, id);
    if (best.length > k) best.pop();
  }
  return best;
}

/** 1-based rank of `id`: one plus the tokens scored higher, or equal with a lower id. */
function rankOf(row: ArrayLike<number>, id: number): number {
  const s = row[id]!;
  let rank = 1;
  for (let j = 0; j < row.length; j++) if (row[j]! > s || (row[j] === s && j < id)) rank++;
  return rank;
}
