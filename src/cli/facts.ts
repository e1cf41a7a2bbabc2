// `backward-lens facts`: the default model's quality table, measurable by anyone.
import { recall, type RecallResult } from '../eval/facts.ts';
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

/** Top-1 recall on the first `records` training records, and on as many held-out (val) records. */
export async function factQuality(model: Gpt2, tokenizer: Tokenizer, dataDir: string, records: number): Promise<FactQuality> {
  const trained = readRecords(dataDir, 'train').slice(0, records);
  const heldOut = readRecords(dataDir, 'val').slice(0, records);
  const strip = (r: RecallResult) => ({ ...r, predictions: [] });
  return {
    trainedPrompt: strip(await recall(model, tokenizer, trained.map((r) => ({ prompt: r.prompt, answer: r.ground_truth })))),
    trainedLocality: strip(await recall(model, tokenizer, trained.map((r) => ({ prompt: r.locality_prompt, answer: r.locality_ground_truth })))),
    trainedRephrase: strip(await recall(model, tokenizer, trained.map((r) => ({ prompt: r.rephrase_prompt, answer: r.ground_truth })))),
    heldOutPrompt: strip(await recall(model, tokenizer, heldOut.map((r) => ({ prompt: r.prompt, answer: r.ground_truth })))),
  };
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

const usage = `backward-lens facts [--model DIR] [--records N] [--data DIR] [--json]

Fact recall of a model: the share of CounterFact prompts whose top-1 next token is
the first token of the answer, on the first N training records (prompt,
locality_prompt, rephrase_prompt) and on the first N held-out validation records.
This is the quality table of the default model's card.

  --records N   how many records of each split (default 1000, what the default model trained on)
  --data DIR    the directory holding counterfact/ (default ../shared/data)
  --json        print JSON instead of the table`;

export const factsCommand: Command = {
  summary: 'measure fact recall (top-1 accuracy) on CounterFact records',
  usage,
  async run(argv) {
    const { values } = parse(argv, { ...MODEL_OPTION, records: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage);
    const records = Number(values.records ?? 1000);
    if (!Number.isInteger(records) || records < 1) throw new UsageError(`--records must be a positive integer, got "${values.records}"`);
    const { model, tokenizer } = await loadModel(values.model);
    const q = await factQuality(model, tokenizer, values.data ?? defaultDataDir(), records);
    console.log(values.json ? JSON.stringify(q, null, 2) : formatQuality(q));
  },
};
