// The records a study runs over: CounterFact (EasyEdit layout; the edit's target is
// target_new, the model's expected answer ground_truth) or ROME's known facts
// (known_1000.json; target and expected answer are both the attribute). A small
// reader of its own for now: src/data/counterfact.ts (branch evaluation) will own
// the CounterFact record type, and this can read through it once it lands.
import { BadInputError } from '../prepare.ts';

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
  if (!Array.isArray(data) || data.length === 0) throw new BadInputError(`${file}: expected a non-empty JSON list of CounterFact or ROME known-fact records`);
  const str = (r: Record<string, unknown>, k: string) => typeof r[k] === 'string';
  const first = data[0] as Record<string, unknown>;
  const layout: Layout | undefined = ['prompt', 'subject', 'target_new', 'ground_truth'].every((k) => str(first, k))
    ? 'counterfact'
    : ['prompt', 'subject', 'attribute'].every((k) => str(first, k))
      ? 'knowns'
      : undefined;
  if (!layout) throw new BadInputError(`${file}: unknown record layout; expected CounterFact (prompt, subject, target_new, ground_truth) or ROME knowns (prompt, subject, attribute)`);
  const records = data.map((raw, index): StudyRecord => {
    const r = raw as Record<string, unknown>;
    const need = layout === 'counterfact' ? ['prompt', 'subject', 'target_new', 'ground_truth'] : ['prompt', 'subject', 'attribute'];
    const missing = need.find((k) => !str(r ?? {}, k));
    if (missing) throw new BadInputError(`${file}: record ${index} has no string "${missing}" like the first record's ${layout} layout`);
    return layout === 'counterfact'
      ? { index, id: Number(r.case_id ?? index), prompt: r.prompt as string, subject: r.subject as string, target: r.target_new as string, answer: r.ground_truth as string }
      : { index, id: Number(r.known_id ?? index), prompt: r.prompt as string, subject: r.subject as string, target: r.attribute as string, answer: r.attribute as string };
  });
  return { layout, records };
}

/**
 * "0-499", "0,3,10-19", "all": 0-based record indices; ranges reaching past the
 * end are cut at the end. Throws if the spec is malformed or selects nothing.
 */
export function selectRecords<T>(records: readonly T[], spec: string): T[] {
  if (spec === 'all') return [...records];
  const picked = new Set<number>();
  for (const item of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
    if (!m) throw new BadInputError(`--records "${spec}": "${item}" is not an index or a range like 0-499`);
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (from > to) throw new BadInputError(`--records "${spec}": the range ${item.trim()} runs backwards`);
    for (let i = from; i <= Math.min(to, records.length - 1); i++) picked.add(i);
  }
  if (picked.size === 0) throw new BadInputError(`--records "${spec}" selects no record: the file holds records 0-${records.length - 1}`);
  return [...picked].sort((a, b) => a - b).map((i) => records[i]!);
}
