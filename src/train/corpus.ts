// The default model's training text: CounterFact facts as sentences (prompt + answer),
// and its reduced vocabulary. Pure functions over parsed records, so the browser could
// use them too; reading the files is the CLI's job.
import type { CounterFactRecord } from '../data/counterfact.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

/** The three sentences of a record the model learns: the fact, its paraphrase, a neighbour's fact. */
export function recordSentences(r: CounterFactRecord): string[] {
  return [`${r.prompt} ${r.ground_truth}`, `${r.rephrase_prompt} ${r.ground_truth}`, `${r.locality_prompt} ${r.locality_ground_truth}`];
}

/**
 * GPT-2 ids of a reduced vocabulary: the 256 byte tokens first (GPT-2 ids 0-255, so
 * any text still encodes), then every other token of the sentences and the extra
 * ids, ascending.
 */
export function reducedVocabulary(gpt2: Tokenizer, sentences: readonly string[], extraIds: Iterable<number>): number[] {
  const ids = new Set<number>(extraIds);
  for (const s of sentences) for (const id of gpt2.encode(s)) ids.add(id);
  for (let b = 0; b < 256; b++) ids.delete(b);
  return [...Array.from({ length: 256 }, (_, b) => b), ...[...ids].sort((a, b) => a - b)];
}
