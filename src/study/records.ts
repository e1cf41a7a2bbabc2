// The records a study runs over: CounterFact (target = target_new, the model's
// expected answer = ground_truth; parsed and selected by src/data/counterfact.ts like
// every other command's) or ROME's known facts (known_1000.json; target and expected
// answer are both the attribute).
import { BadDataError, checkCounterFact, selectRecords as select } from '../data/counterfact.ts';

export type Layout = 'counterfact' | 'knowns';

export interface StudyRecord {
  /** Position in the data file, 0-based, as --records counts. */
  readonly index: number;
  /** case_id or known_id. */
  readonly id: number;
  readonly prompt: string;
  readonly subject: string;
  /** The answer the gradient teaches (without the leading space). */
  readonly target: string;
  /** The fact's true answer, to tell whether the model answered correctly (Fig. 20). */
  readonly answer: string;
}

const KNOWN_FIELDS = ['prompt', 'subject', 'attribute'] as const;

/** Recognises the layout from the first record's fields. */
export function parseRecords(data: unknown, file: string): { layout: Layout; records: StudyRecord[] } {
  if (!Array.isArray(data) || data.length === 0) throw new BadDataError(`${file}: expected a non-empty JSON list of CounterFact or ROME known-fact records`);
  const first = data[0] as Record<string, unknown>;
  if (typeof first?.target_new === 'string') {
    const records = checkCounterFact(data, file).map((r, index) => ({ index, id: r.case_id, prompt: r.prompt, subject: r.subject, target: r.target_new, answer: r.ground_truth }));
    return { layout: 'counterfact', records };
  }
  if (typeof first?.attribute !== 'string') throw new BadDataError(`${file}: unknown record layout; expected CounterFact (case_id, prompt, subject, target_new, ground_truth, ...) or ROME knowns (prompt, subject, attribute)`);
  const records = data.map((raw, index): StudyRecord => {
    const r = (raw ?? {}) as Record<string, unknown>;
    const missing = KNOWN_FIELDS.find((k) => typeof r[k] !== 'string');
    if (missing) throw new BadDataError(`${file}: record ${index} has no string "${missing}" like the first record's known-fact layout`);
    return { index, id: Number(r.known_id ?? index), prompt: r.prompt as string, subject: r.subject as string, target: r.attribute as string, answer: r.attribute as string };
  });
  return { layout: 'knowns', records };
}

/** `--records`: index ranges, `case:` ids (case_id or known_id) or `all`, as every command reads them. */
export function selectRecords(records: readonly StudyRecord[], spec: string): StudyRecord[] {
  return select(records, spec, (r) => r.id, 'id').map((s) => s.record);
}
