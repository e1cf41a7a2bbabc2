// ROME's known facts (known_1000.json, Meng et al. 2022): prompts the model already
// completes with the attribute. Browser-safe: parsing takes parsed JSON, not files.
import { BadDataError } from './counterfact.ts';

export interface KnownRecord {
  /** known_id, or the position in the file where a record has none. */
  id: number;
  prompt: string;
  subject: string;
  attribute: string;
}

const FIELDS = ['prompt', 'subject', 'attribute'] as const;

/** Whether parsed JSON looks like a list of known facts (judged by its first record). */
export const isKnowns = (data: unknown): boolean => Array.isArray(data) && typeof (data[0] as Record<string, unknown> | undefined)?.attribute === 'string';

/** The records of already parsed JSON, checked field by field. */
export function checkKnowns(data: readonly unknown[], source: string): KnownRecord[] {
  return data.map((raw, index) => {
    const r = (raw ?? {}) as Record<string, unknown>;
    const missing = FIELDS.find((k) => typeof r[k] !== 'string');
    if (missing) throw new BadDataError(`${source}: record ${index} has no string "${missing}" like the first record's known-fact layout`);
    return { id: Number(r.known_id ?? index), prompt: r.prompt as string, subject: r.subject as string, attribute: r.attribute as string };
  });
}
