// CounterFact records (EasyEdit layout) and the rules every command applies to them:
// answers are strings without a leading space, so the token that follows a prompt is
// the first token of `" " + answer`. Browser-safe: parsing takes text, not files.
import { BadInputError } from '../errors.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { expandRanges, parseRanges } from './ranges.ts';

export interface CounterFactRecord {
  case_id: number;
  prompt: string;
  subject: string;
  target_new: string;
  ground_truth: string;
  rephrase_prompt: string;
  locality_prompt: string;
  locality_ground_truth: string;
}

const STRING_FIELDS = ['prompt', 'subject', 'target_new', 'ground_truth', 'rephrase_prompt', 'locality_prompt', 'locality_ground_truth'] as const;

export class BadDataError extends BadInputError {
  override name = 'BadDataError';
}

/** Parses a JSON list of records; `source` names the file in messages. */
export function parseCounterFact(text: string, source: string): CounterFactRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new BadDataError(`${source} is not valid JSON (${(e as Error).message}); the file is damaged: restore it, or pass another file`);
  }
  return checkCounterFact(data, source);
}

/** The records of already parsed JSON, checked field by field. */
export function checkCounterFact(data: unknown, source: string): CounterFactRecord[] {
  if (!Array.isArray(data)) throw new BadDataError(`${source} is not a list of CounterFact records (EasyEdit layout: case_id, prompt, target_new, ground_truth, ...)`);
  data.forEach((r: unknown, i) => {
    const rec = r as Record<string, unknown>;
    if (typeof rec !== 'object' || rec === null || !Number.isInteger(rec.case_id)) throw new BadDataError(`${source}: record ${i} has no integer case_id`);
    const bad = STRING_FIELDS.find((f) => typeof rec[f] !== 'string');
    if (bad) throw new BadDataError(`${source}: record ${i} (case_id ${rec.case_id}) has no string field "${bad}"`);
  });
  return data as CounterFactRecord[];
}

/** The answer as text that follows a prompt, for the edits' target text: with its leading space. */
export const spaced = (answer: string): string => ` ${answer}`;

/** Model ids of an answer as it follows its prompt. */
export function answerTokens(tokenizer: Tokenizer, prompt: string, answer: string): number[] {
  const ids = tokenizer.answerIds(prompt, answer);
  if (ids.length === 0) throw new RangeError(`answer "${answer}" encodes to no tokens`);
  return ids;
}

/** The first token of an answer as it follows its prompt: what efficacy and the edits use. */
export function answerToken(tokenizer: Tokenizer, prompt: string, answer: string): number {
  return answerTokens(tokenizer, prompt, answer)[0]!;
}

export interface Selected<T = CounterFactRecord> {
  /** Position in the file, 0-based. */
  index: number;
  record: T;
}

/**
 * Records by a spec: index ranges into the file (`0-99`, `0-9,50,70-79`, 0-based,
 * inclusive), ids (`case:2,3,8-12`: case_id, or `idOf` of other kinds of record) or
 * `all`. File order is kept; a spec that selects nothing, or names an index
 * or id the file lacks, is an error.
 */
export function selectRecords<T = CounterFactRecord>(
  records: readonly T[],
  spec: string,
  idOf: (r: T) => number = (r) => (r as CounterFactRecord).case_id,
  idName = 'case_id',
): Selected<T>[] {
  const all = records.map((record, index) => ({ index, record }));
  if (spec === 'all') {
    if (all.length === 0) throw new BadDataError('records "all": the file holds no records');
    return all;
  }
  const byCase = spec.startsWith('case:');
  const body = byCase ? spec.slice(5) : spec;
  const fail = (problem: string) => new BadDataError(`records "${spec}": ${problem} (e.g. 0-99, or case:2,3,8-12 for ${idName}s)`);
  const wanted = new Set(expandRanges(parseRanges(body, { fail })));
  const key = (s: Selected<T>) => (byCase ? idOf(s.record) : s.index);
  const selected = all.filter((s) => wanted.has(key(s)));
  if (selected.length === 0) throw new BadDataError(`records "${spec}" selects none of the ${records.length} records`);
  if (selected.length < wanted.size) {
    const have = new Set(selected.map(key));
    const missing = [...wanted].find((x) => !have.has(x))!;
    throw new BadDataError(byCase ? `records "${spec}": no record has ${idName} ${missing}` : `records "${spec}": index ${missing} is past the last record (${records.length - 1})`);
  }
  return selected;
}
