// Fact recall: is the answer's first token the model's top-1 next token after the
// prompt? Batched: one forward pass (logits at the last position only) per batch.
import { Tape } from '../autograd/tape.ts';
import { readI32 } from '../gpu/buffers.ts';
import type { Model } from '../model/model.ts';
import { topk } from '../gpu/vocab.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';

export interface PromptAnswer {
  prompt: string;
  answer: string;
}

export interface RecallResult {
  total: number;
  correct: number;
  accuracy: number;
  /** Model id predicted for each item, in order. */
  predictions: number[];
}

/** Top-1 next token after each prompt, in batches. */
export async function predictNext(model: Model, tokenizer: Tokenizer, prompts: readonly string[], batchSize = 64, onProgress?: (done: number) => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < prompts.length; i += batchSize) {
    const seqs = prompts.slice(i, i + batchSize).map((p) => promptIds(tokenizer, p).slice(-model.config.nPositions));
    const tape = new Tape(model.k);
    try {
      const { logits } = model.forward(tape, seqs, seqs.map((s, seq) => ({ seq, position: s.length - 1 })));
      const best = topk(model.k, logits, 1, 'top');
      out.push(...(await readI32(model.k, tape.own(best.ids))));
      best.scores.dispose();
    } finally {
      tape.dispose();
    }
    onProgress?.(out.length);
  }
  return out;
}

/** `onProgress` gets the number of items predicted so far after each batch. */
export async function recall(model: Model, tokenizer: Tokenizer, items: readonly PromptAnswer[], onProgress?: (done: number) => void): Promise<RecallResult> {
  const predictions = await predictNext(model, tokenizer, items.map((x) => x.prompt), 64, onProgress);
  const correct = items.filter((x, i) => tokenizer.answerIds(x.prompt, x.answer)[0] === predictions[i]).length;
  return { total: items.length, correct, accuracy: items.length ? correct / items.length : 0, predictions };
}
