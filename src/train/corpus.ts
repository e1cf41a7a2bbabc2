// The default model's training text: CounterFact facts as sentences (prompt + answer),
// and its reduced vocabulary. Pure functions over parsed records, so the browser could
// use them too; reading the files is the CLI's job.
import type { CounterFactRecord } from '../data/counterfact.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';

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

/**
 * Sentences that give the head row of every target token a data gradient: the first
 * token of each record's `" " + target_new` that no sentence of `sentences` holds
 * gets up to `perToken` sentences holding it, from `sources` (CounterFact records the
 * model does not train on). Without them such a row is only ever pushed down, and
 * never-seen rows collapse onto one direction, so a gradient cannot single one out.
 * Deterministic: first each source's two facts (prompt → ground_truth, locality_prompt
 * → locality_ground_truth) in file order, then, for tokens still short, the rephrased
 * facts; a sentence of more than `maxTokens` tokens as the model reads it (BOS first
 * where the tokenizer adds one) is passed over. `short` holds the tokens left with
 * fewer than `perToken`, and how many they got.
 */
export function coverSentences(
  tokenizer: Tokenizer,
  sentences: readonly string[],
  records: readonly CounterFactRecord[],
  sources: readonly CounterFactRecord[],
  perToken: number,
  maxTokens: number,
): { sentences: string[]; short: Map<number, number> } {
  const seen = new Set(sentences.flatMap((s) => tokenizer.encode(s)));
  const got = new Map<number, number>();
  for (const r of records) {
    const target = tokenizer.answerIds(r.prompt, r.target_new)[0]!;
    if (!seen.has(target)) got.set(target, 0);
  }
  const picked: string[] = [];
  const consider = (s: string) => {
    const ids = promptIds(tokenizer, s);
    const wanted = [...new Set(ids)].filter((t) => got.has(t) && got.get(t)! < perToken);
    if (wanted.length === 0 || ids.length > maxTokens) return;
    picked.push(s);
    for (const t of wanted) got.set(t, got.get(t)! + 1);
  };
  for (const r of sources) {
    const [fact, , locality] = recordSentences(r);
    consider(fact!);
    consider(locality!);
  }
  for (const r of sources) consider(recordSentences(r)[1]!);
  return { sentences: picked, short: new Map([...got].filter(([, n]) => n < perToken)) };
}

/**
 * What a model trains on: each record's three sentences, then (with `cover` > 0) the
 * cover sentences; `train` and the readers that rebuild its text from its metadata
 * share this, so the two cannot drift apart.
 */
export function trainedText(tokenizer: Tokenizer, records: readonly CounterFactRecord[], sources: readonly CounterFactRecord[], cover: number, maxTokens: number): { sentences: string[]; short: Map<number, number> } {
  const own = records.flatMap(recordSentences);
  if (cover === 0) return { sentences: own, short: new Map() };
  const more = coverSentences(tokenizer, own, records, sources, cover, maxTokens);
  return { sentences: [...own, ...more.sentences], short: more.short };
}
