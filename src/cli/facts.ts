// `backward-lens facts`: the default model's quality table, measurable by anyone.
import { recall, type PromptAnswer, type RecallResult } from '../eval/facts.ts';
import { targetWrites, type LayerWrites } from '../eval/target-writes.ts';
import type { CounterFactRecord } from '../data/counterfact.ts';
import { recordSentences } from '../train/corpus.ts';
import { Progress } from './progress.ts';
import type { Gpt2 } from '../model/gpt2.ts';
import type { Tokenizer } from '../tokenizer.ts';
import { defaultDataDir, readRecords } from './data.ts';
import { MODEL_OPTION, loadModel, parse, UsageError, type Command } from './common.ts';

export interface FactQuality {
  trainedPrompt: RecallResult;
  trainedLocality: RecallResult;
  trainedRephrase: RecallResult;
  heldOutPrompt: RecallResult;
}

/** Top-1 recall on the first `records` training records, and on as many held-out (val) records, with a progress line on stderr. */
export async function factQuality(model: Gpt2, tokenizer: Tokenizer, dataDir: string, records: number): Promise<FactQuality> {
  const trained = readRecords(dataDir, 'train').slice(0, records);
  const heldOut = readRecords(dataDir, 'val').slice(0, records);
  const sets = {
    trainedPrompt: trained.map((r) => ({ prompt: r.prompt, answer: r.ground_truth })),
    trainedLocality: trained.map((r) => ({ prompt: r.locality_prompt, answer: r.locality_ground_truth })),
    trainedRephrase: trained.map((r) => ({ prompt: r.rephrase_prompt, answer: r.ground_truth })),
    heldOutPrompt: heldOut.map((r) => ({ prompt: r.prompt, answer: r.ground_truth })),
  };
  const progress = new Progress(Object.values(sets).reduce((n, items) => n + items.length, 0));
  const quality: Partial<FactQuality> = {};
  let before = 0;
  for (const [name, items] of Object.entries(sets) as [keyof FactQuality, PromptAnswer[]][]) {
    const r = await recall(model, tokenizer, items, (done) => progress.update(before + done, 'prompts through fact recall'));
    quality[name] = { ...r, predictions: [] };
    before += items.length;
  }
  progress.done();
  return quality as FactQuality;
}

export function formatQuality(q: FactQuality): string {
  const row = (name: string, r: RecallResult) => `| ${name.padEnd(48)} | ${String(r.correct).padStart(5)} / ${String(r.total).padEnd(5)} | ${(100 * r.accuracy).toFixed(1).padStart(5)} % |`;
  return [
    `| ${'top-1 next token = first token of the answer'.padEnd(48)} | correct / total | accuracy |`,
    `|${'-'.repeat(50)}|-----------------|----------|`,
    row('trained records: prompt -> ground_truth', q.trainedPrompt),
    row('trained records: locality_prompt -> its answer', q.trainedLocality),
    row('trained records: rephrase_prompt -> ground_truth', q.trainedRephrase),
    row('held-out (val) records: prompt -> ground_truth', q.heldOutPrompt),
  ].join('\n');
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
 * token occurs anywhere in the sentences of `corpus`, the records the model trained on.
 */
export async function writesReport(model: Gpt2, tokenizer: Tokenizer, trained: readonly CounterFactRecord[], k: number, corpus: readonly CounterFactRecord[] = trained): Promise<WritesReport> {
  const seen = new Set(corpus.flatMap(recordSentences).flatMap((s) => tokenizer.encode(s)));
  const isSeen = (r: CounterFactRecord) => seen.has(tokenizer.encode(` ${r.target_new}`)[0]!);
  const item = (r: CounterFactRecord) => ({ prompt: r.prompt, targetNew: r.target_new });
  const progress = new Progress(trained.length);
  const seenItems = trained.filter(isSeen).map(item);
  const report = (done: number) => progress.update(done, 'records through the Backward Lens');
  const seenInTraining = await targetWrites(model, tokenizer, seenItems, k, report);
  const neverSeen = await targetWrites(model, tokenizer, trained.filter((r) => !isSeen(r)).map(item), k, (d) => report(seenItems.length + d));
  progress.done();
  return { k, seenInTraining, neverSeen };
}

export function formatWrites(w: WritesReport): string {
  const cell = (x: LayerWrites) => (x.total === 0 ? 'no records' : `${x.hits} / ${x.total} (${(100 * x.rate).toFixed(1)} %), median rank ${x.medianRank}`);
  return [
    `| layer | target_new in bottom-${w.k} of FF2 delta_n: token seen in training | token never in the training text |`,
    '|---|---|---|',
    ...w.seenInTraining.map((x, l) => `| ${x.layer} | ${cell(x)} | ${cell(w.neverSeen[l]!)} |`),
  ].join('\n');
}

/** The --records of the train command in the model's metadata; `fallback`, said on stderr, for models made elsewhere. */
function trainedRecords(metadata: Readonly<Record<string, string>>, fallback: number): number {
  const m = /--records (\d+)/.exec(metadata.training ?? '');
  if (m) return Number(m[1]);
  process.stderr.write(`backward-lens: warning: the model's metadata does not say which records it trained on (no "training" entry); --writes takes them to be the first ${fallback}, as --records\n`);
  return fallback;
}

const usage = `backward-lens facts [--model DIR] [--records N] [--data DIR] [--writes] [--json]

Fact recall of a model: the share of CounterFact prompts whose top-1 next token is
the first token of the answer, on the first N training records (prompt,
locality_prompt, rephrase_prompt) and on the first N held-out validation records.
This is the quality table of the default model's card.

  --records N   how many records of each split (default 1000, at most the training
                split's; the held-out row takes all of a smaller split, with a
                warning); the model is taken to have trained on the first N
                training records, as the default did, unless its metadata says
  --data DIR    the directory holding counterfact/ (default ../shared/data)
  --writes      also: per layer, how often the gradient of prompt -> target_new
                writes the target, i.e. its first token is among the 5 least
                probable tokens of LL(delta_n) of mlp.c_proj (paper Fig. 5/7), on
                the trained records; rank 1 = least probable. Split by whether the
                target token occurs in the training sentences at all (of every
                record the model trained on, read from its metadata, even when
                --records evaluates fewer)
  --json        print JSON instead of the tables`;

export const factsCommand: Command = {
  summary: 'measure fact recall (top-1 accuracy) on CounterFact records',
  usage,
  async run(argv) {
    const { values } = parse(argv, { ...MODEL_OPTION, records: { type: 'string' }, data: { type: 'string' }, writes: { type: 'boolean' }, json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage);
    const records = Number(values.records ?? 1000);
    if (!Number.isInteger(records) || records < 1) throw new UsageError(`--records must be a positive integer, got "${values.records}"`);
    const dataDir = values.data ?? defaultDataDir();
    const train = readRecords(dataDir, 'train');
    if (records > train.length) throw new UsageError(`--records ${records}: counterfact-train.json has ${train.length} records; choose at most ${train.length}`);
    const heldOut = readRecords(dataDir, 'val').length;
    if (records > heldOut) process.stderr.write(`backward-lens: warning: counterfact-val.json has ${heldOut} records, fewer than --records ${records}: the held-out row uses all ${heldOut}\n`);
    const { model, tokenizer, metadata } = await loadModel(values.model);
    const q = await factQuality(model, tokenizer, dataDir, records);
    const w = values.writes ? await writesReport(model, tokenizer, train.slice(0, records), 5, train.slice(0, trainedRecords(metadata, records))) : undefined;
    if (values.json) console.log(JSON.stringify(w ? { ...q, targetWrites: w } : q, null, 2));
    else console.log([formatQuality(q), ...(w ? ['', formatWrites(w)] : [])].join('\n'));
  },
};
