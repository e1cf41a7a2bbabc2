// `backward-lens facts`: the default model's quality table, measurable by anyone.
import type { CounterFactRecord } from '../data/counterfact.ts';
import { factQuality as computeQuality, writesReport, type FactQuality, type WritesReport } from '../eval/fact-quality.ts';
import type { Model } from '../model/model.ts';
import { formatQuality, formatWrites } from '../report/fact-quality.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { Progress } from './progress.ts';
import { defaultDataDir, readRecords } from './data.ts';
import { coverOf, trainingText } from './training-text.ts';
import { MODEL_OPTION, loadModel, parse, UsageError, type Command } from './common.ts';
import { namesOf } from '../model/families/index.ts';

/** Top-1 recall on the first `records` training records, and on as many held-out (val) records, with a progress line on stderr. */
export async function factQuality(model: Model, tokenizer: Tokenizer, dataDir: string, records: number): Promise<FactQuality> {
  const trained = readRecords(dataDir, 'train').slice(0, records);
  const heldOut = readRecords(dataDir, 'val').slice(0, records);
  // Three prompts of each trained record (prompt, locality, rephrase), one of each held-out one.
  const progress = new Progress(3 * trained.length + heldOut.length);
  const quality = await computeQuality(model, tokenizer, trained, heldOut, (done) => progress.update(done, 'prompts through fact recall'));
  progress.done();
  return quality;
}

async function writesWithProgress(model: Model, tokenizer: Tokenizer, trained: readonly CounterFactRecord[], text: readonly string[], k: number): Promise<WritesReport> {
  const progress = new Progress(trained.length);
  const w = await writesReport(model, tokenizer, trained, k, text, (done) => progress.update(done, 'records through the Backward Lens'));
  progress.done();
  return w;
}

/** The --records of the train command in the model's metadata; `fallback`, said on stderr, for models made elsewhere. */
function trainedRecords(metadata: Readonly<Record<string, string>>, fallback: number): number {
  const m = /--records (\d+)/.exec(metadata.training ?? '');
  if (m) return Number(m[1]);
  process.stderr.write(`backward-lens: warning: the model's metadata does not say which records it trained on (no "training" entry); --writes takes them to be the first ${fallback}, as --records\n`);
  return fallback;
}

const usage = `backward-lens facts [--model DIR|NAME] [--records N] [--data DIR] [--writes [--bottom K]] [--json]

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
                probable tokens of LL(delta_n) of FF2, ${namesOf('ff_out')} (paper Fig. 5/7), on
                the trained records; rank 1 = least probable. Split by whether the
                target token occurs in the training sentences at all (of every
                record the model trained on, and a Llama's --cover-targets
                sentences, read from its metadata, even when --records evaluates
                fewer)
  --bottom K    with --writes: count the target among the K least probable tokens
                (default 5; 1 is the paper's Lemma 5.1 reading at the last layer)
  --json        print JSON instead of the tables`;

export const factsCommand: Command = {
  summary: 'measure fact recall (top-1 accuracy) on CounterFact records',
  usage,
  async run(argv) {
    const { values } = parse(argv, { ...MODEL_OPTION, records: { type: 'string' }, data: { type: 'string' }, writes: { type: 'boolean' }, bottom: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage);
    const records = Number(values.records ?? 1000);
    if (!Number.isInteger(records) || records < 1) throw new UsageError(`--records must be a positive integer, got "${values.records}"`);
    const bottom = Number(values.bottom ?? 5);
    if (!Number.isInteger(bottom) || bottom < 1) throw new UsageError(`--bottom must be a positive integer, got "${values.bottom}"`);
    if (values.bottom !== undefined && !values.writes) throw new UsageError('--bottom applies to --writes; add --writes');
    const dataDir = values.data ?? defaultDataDir();
    const train = readRecords(dataDir, 'train');
    if (records > train.length) throw new UsageError(`--records ${records}: counterfact-train.json has ${train.length} records; choose at most ${train.length}`);
    const heldOut = readRecords(dataDir, 'val').length;
    if (records > heldOut) process.stderr.write(`backward-lens: warning: counterfact-val.json has ${heldOut} records, fewer than --records ${records}: the held-out row uses all ${heldOut}\n`);
    const { model, tokenizer, metadata } = await loadModel(values.model);
    const q = await factQuality(model, tokenizer, dataDir, records);
    const text = values.writes ? trainingText(dataDir, tokenizer, train.slice(0, trainedRecords(metadata, records)), coverOf(metadata), model.config.nPositions) : [];
    const w = values.writes ? await writesWithProgress(model, tokenizer, train.slice(0, records), text, bottom) : undefined;
    if (values.json) console.log(JSON.stringify(w ? { ...q, targetWrites: w } : q, null, 2));
    else console.log([formatQuality(q), ...(w ? ['', formatWrites(w)] : [])].join('\n'));
  },
};
