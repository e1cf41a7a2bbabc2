// The evaluation tables in the layout of the paper's Tables 6 and 7 (Markdown), plus
// one table of the metrics the paper does not print (full-target forms, ROME's ES,
// PS, NS and their magnitudes).
import { METRICS, type MethodSummary } from '../eval/summary.ts';

const cell = (s: MethodSummary, key: string) => {
  const x = s.metrics[key];
  return x ? `${x.mean.toFixed(2)} ± ${x.std.toFixed(2)}` : '–';
};

function table(rows: readonly MethodSummary[], keys: readonly string[], arrows: Record<string, string>): string[] {
  const name = (key: string) => `${METRICS.find((m) => m.key === key)!.name}${arrows[key] ? ` ${arrows[key]}` : ''}`;
  return [
    `| Method | ${keys.map(name).join(' | ')} |`,
    `|---|${keys.map(() => '---:').join('|')}|`,
    ...rows.map((s) => `| ${s.method} | ${keys.map((k) => cell(s, k)).join(' | ')} |`),
  ];
}

/** `header` lines describe the run (model, data, command); the tables follow. */
export function evalTable(rows: readonly MethodSummary[], header: readonly string[]): string {
  const up = '↑';
  const counts = [...new Set(rows.map((r) => r.records))];
  return [
    ...header,
    '',
    `Records per method: ${counts.join(', ')}. Mean ± population standard deviation over records; x100 for the 0/1 metrics, the probability gaps and the n-gram entropy; perplexity as is.`,
    ...failedNote(rows),
    '',
    'Editing (layout of the paper\'s Table 6):',
    '',
    ...table(rows, ['efficacy', 'paraphrase', 'neighborhood'], { efficacy: up, paraphrase: up, neighborhood: up }),
    '',
    'Generation (layout of the paper\'s Table 7):',
    '',
    ...table(rows, ['fluency', 'perplexity'], { fluency: up, perplexity: '↓' }),
    '',
    'Full-target forms and probability comparisons (ROME\'s *_acc, ES / PS / NS):',
    '',
    ...table(rows, ['efficacyAll', 'paraphraseAll', 'neighborhoodAll', 'es', 'ps', 'ns', 'esMagnitude', 'psMagnitude', 'nsMagnitude'], {}),
    '',
  ].join('\n');
}

/** Edits that overflowed float32 are in no mean: the table says how many, per method. */
function failedNote(rows: readonly MethodSummary[]): string[] {
  const failed = rows.filter((r) => r.failed);
  if (failed.length === 0) return [];
  return ['', `Failed edits (weights infinite or NaN, in no metric; see records.jsonl): ${failed.map((r) => `${r.method} ${r.failed} of ${r.records}`).join(', ')}.`];
}
