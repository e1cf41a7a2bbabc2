// The sentences a model made by `train` read, rebuilt from the command line its
// metadata records, so `facts --writes` and the edit sweep can tell which target
// tokens it saw.
import type { CounterFactRecord } from '../data/counterfact.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainedText } from '../train/corpus.ts';
import { readRecords } from './data.ts';

/**
 * Records a Llama's cover sentences may come from: counterfact-train.json's records
 * after the `trained` first ones, then counterfact-edit.json; never
 * counterfact-val.json, whose first records are `facts`' held-out test.
 */
export function coverSources(dataDir: string, trained: number): CounterFactRecord[] {
  return [...readRecords(dataDir, 'train').slice(trained), ...readRecords(dataDir, 'edit')];
}

/** `--cover-targets N` of the training command in the metadata; 0 for models trained without it. */
export function coverOf(metadata: Readonly<Record<string, string>>): number {
  return Number(/--cover-targets (\d+)/.exec(metadata.training ?? '')?.[1] ?? 0);
}

/** The training sentences: each trained record's three, then, with `cover` > 0, the cover sentences. */
export function trainingText(dataDir: string, tokenizer: Tokenizer, trained: readonly CounterFactRecord[], cover: number, context: number): string[] {
  return trainedText(tokenizer, trained, cover > 0 ? coverSources(dataDir, trained.length) : [], cover, context).sentences;
}
