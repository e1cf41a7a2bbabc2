// Greedy and top-k sampled continuation, batched: one forward pass per new token for
// all prompts (no KV cache: prompts here are short and the pass is cheap next to
// the analysis). Only k ids and scores per prompt are read back each step.
import { Tape } from '../autograd/tape.ts';
import { readAll } from '../gpu/buffers.ts';
import { topk } from '../gpu/vocab.ts';
import type { Gpt2 } from './gpt2.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 1 (default) is greedy; k > 1 samples among the k most likely tokens. */
  topK?: number;
  temperature?: number;
  /** Seed of the sampler, so a run is reproducible. */
  seed?: number;
}

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns the new tokens of each prompt. Prompts longer than the context keep their tail. */
export async function generate(model: Gpt2, prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<number[][]> {
  const k = opts.topK ?? 1;
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError('temperature must be > 0');
  const random = seededRandom(opts.seed ?? 0);
  const context = model.config.nPositions;
  const seqs = prompts.map((p) => [...p]);
  const added = prompts.map((): number[] => []);
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const windows = seqs.map((s) => s.slice(-context));
    const tape = new Tape(model.k);
    try {
      const { logits } = model.forward(tape, windows, windows.map((w, seq) => ({ seq, position: w.length - 1 })));
      const best = topk(model.k, logits, k, 'top');
      const [ids, scores] = await readAll(model.k, [best.ids, best.scores]);
      best.ids.dispose();
      best.scores.dispose();
      seqs.forEach((s, i) => {
        const next = pick(ids!.subarray(i * k, (i + 1) * k), scores!.subarray(i * k, (i + 1) * k), temperature, random);
        s.push(next);
        added[i]!.push(next);
      });
    } finally {
      tape.dispose();
    }
  }
  return added;
}

/** Samples from softmax(scores / temperature) over the candidate ids (the first when k = 1). */
export function pick(ids: ArrayLike<number>, scores: ArrayLike<number>, temperature: number, random: () => number): number {
  if (ids.length === 1) return ids[0]!;
  const max = scores[0]!;
  const weights = Array.from(scores, (s) => Math.exp((s - max) / temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
