// The default model's quality table (the `facts` command): top-1 fact recall on
// trained and held-out CounterFact records, and how often the Backward Lens finds
// the target written in FF2's gradient, split by whether training ever showed the
// model the target token.
import type { CounterFactRecord } from '../data/counterfact.ts';
import type { Model } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { recall, type PromptAnswer, type RecallResult } from './facts.ts';
import { targetWrites, type LayerWrites } from './target-writes.ts';

export interface FactQuality {
  trainedPrompt: RecallResult;
  trainedLocality: RecallResult;
  trainedRephrase: RecallResult;
  heldOutPrompt: RecallResult;
}

/** `onProgress(done)` counts prompts across the four sets: three per trained record, one per held-out one. */
export async function factQuality(model: Model, tokenizer: Tokenizer, trained: readonly CounterFactRecord[], heldOut: readonly CounterFactRecord[], onProgress?: (done: number) => void): Promise<FactQuality> {
  const sets = {
    trainedPrompt: trained.map((r) => ({ prompt: r.prompt, answer: r.ground_truth })),
    trainedLocality: trained.map((r) => ({ prompt: r.locality_prompt, answer: r.locality_ground_truth })),
    trainedRephrase: trained.map((r) => ({ prompt: r.rephrase_prompt, answer: r.ground_truth })),
    heldOutPrompt: heldOut.map((r) => ({ prompt: r.prompt, answer: r.ground_truth })),
  };
  const quality: Partial<FactQuality> = {};
  let before = 0;
  for (const [name, items] of Object.entries(sets) as [keyof FactQuality, PromptAnswer[]][]) {
    const r = await recall(model, tokenizer, items, (done) => onProgress?.(before + done));
    quality[name] = { ...r, predictions: [] };
    before += items.length;
  }
  return quality as FactQuality;
}

export interface WritesReport {
  k: number;
  /** Records whose target_new first token occurs in the trained sentences ... */
  seenInTraining: LayerWrites[];
  /** ... and those whose target_new token the model never saw (an untrained embedding row). */
  neverSeen: LayerWrites[];
}

/**
 * Per layer, how often prompt -> target_new's FF2 delta_n has the target among its
 * k least probable tokens, on the `trained` records, split by whether the target
 * token occurs anywhere in `text`, the sentences the model trained on.
 * `onProgress(done)` counts records.
 */
export async function writesReport(model: Model, tokenizer: Tokenizer, trained: readonly CounterFactRecord[], k: number, text: readonly string[], onProgress?: (done: number) => void): Promise<WritesReport> {
  const seen = new Set(text.flatMap((s) => tokenizer.encode(s)));
  const isSeen = (r: CounterFactRecord) => seen.has(tokenizer.answerIds(r.prompt, r.target_new)[0]!);
  const item = (r: CounterFactRecord) => ({ prompt: r.prompt, targetNew: r.target_new });
  const seenItems = trained.filter(isSeen).map(item);
  const seenInTraining = await targetWrites(model, tokenizer, seenItems, k, onProgress);
  const neverSeen = await targetWrites(model, tokenizer, trained.filter((r) => !isSeen(r)).map(item), k, (d) => onProgress?.(seenItems.length + d));
  return { k, seenInTraining, neverSeen };
}
