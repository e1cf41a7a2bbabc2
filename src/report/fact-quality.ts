// The `facts` command's tables, in the Markdown the default model's card quotes.
import type { FactQuality, WritesReport } from '../eval/fact-quality.ts';
import type { RecallResult } from '../eval/facts.ts';
import type { LayerWrites } from '../eval/target-writes.ts';

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

export function formatWrites(w: WritesReport): string {
  const cell = (x: LayerWrites) => (x.total === 0 ? 'no records' : `${x.hits} / ${x.total} (${(100 * x.rate).toFixed(1)} %), median rank ${x.medianRank}`);
  return [
    `| layer | target_new in bottom-${w.k} of FF2 delta_n: token seen in training | token never in the training text |`,
    '|---|---|---|',
    ...w.seenInTraining.map((x, l) => `| ${x.layer} | ${cell(x)} | ${cell(w.neverSeen[l]!)} |`),
  ].join('\n');
}
