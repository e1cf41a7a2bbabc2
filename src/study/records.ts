// The records a study runs over: CounterFact (target = target_new, the model's
// expected answer = ground_truth; parsed and selected by src/data/counterfact.ts like
// every other command's) or ROME's known facts (src/data/knowns.ts; target and expected
// answer are both the attribute).
import { BadDataError, checkCounterFact, selectRecords as select } from '../data/counterfact.ts';
import { checkKnowns, isKnowns } from '../data/knowns.ts';

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

/** Recognises the layout from the first record's fields. */
export function parseRecords(data: unknown, file: string): { layout: Layout; records: StudyRecord[] } {
  if (!Array.isArray(data) || data.length === 0) throw new BadDataError(`${file}: expected a non-empty JSON list of CounterFact or ROME known-fact records`);
  const first = data[0] as Record<string, unknown>;
  if (typeof first?.target_new === 'string') {
    const records = checkCounterFact(data, file).map((r, index) => ({ index, id: r.case_id, prompt: r.prompt, subject: r.subject, target: r.target_new, answer: r.ground_truth }));
    return { layout: 'counterfact', records };
  }
  if (!isKnowns(data)) throw new BadDataError(`${file}: unknown record layout; expected CounterFact (case_id, prompt, subject, target_new, ground_truth, ...) or ROME knowns (prompt, subject, attribute)`);
  const records = checkKnowns(data, file).map((r, index): StudyRecord => ({ index, id: r.id, prompt: r.prompt, subject: r.subject, target: r.attribute, answer: r.attribute }));
  return { layout: 'knowns', records };
}

/** `--records`: index ranges, `case:` ids (case_id or known_id) or `all`, as every command reads them. */
export function selectRecords(records: readonly StudyRecord[], spec: string): StudyRecord[] {
  return select(records, spec, (r) => r.id, 'id').map((s) => s.record);
}
