// Reading config.json fields the Hugging Face way (absent or null takes the default),
// with one-line messages that name the field and the fix; shared by the families
// whose configs use transformers' newer field names (Llama, GPT-NeoX).
import { BadModelError, type Position, type RopeScaling } from '../config.ts';

export type Json = Readonly<Record<string, unknown>>;

export const has = (o: Json, key: string) => o[key] !== undefined && o[key] !== null;

export function int(o: Json, key: string, file: string, fallback?: number): number {
  const v = has(o, key) ? o[key] : fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new BadModelError(`${file}: ${key} must be a positive integer, got ${JSON.stringify(v)}; fix the config`);
  return v;
}

export function num(o: Json, key: string, file: string, fallback?: number): number {
  const v = has(o, key) ? o[key] : fallback;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new BadModelError(`${file}: ${key} must be a positive number, got ${JSON.stringify(v)}; fix the config`);
  return v;
}

export function bool(o: Json, key: string, file: string, fallback: boolean): boolean {
  const v = has(o, key) ? o[key] : fallback;
  if (typeof v !== 'boolean') throw new BadModelError(`${file}: ${key} must be true or false, got ${JSON.stringify(v)}; fix the config`);
  return v;
}

export function tokenIds(o: Json, key: string, file: string): number[] {
  if (!has(o, key)) return [];
  const v = o[key];
  const ids = Array.isArray(v) ? v : [v];
  if (!ids.every((id) => Number.isSafeInteger(id) && (id as number) >= 0)) throw new BadModelError(`${file}: ${key} must be a token id or a list of them, got ${JSON.stringify(v)}; fix the config`);
  return ids as number[];
}

const ROPE_TYPES = 'default, linear, llama3, dynamic (within max_position_embeddings)';

/**
 * rope_scaling (or a newer config's rope_parameters). `dynamic` rescales only once a
 * sequence outgrows max_position_embeddings, which validation refuses, so within that
 * it is plain rotary.
 */
export function ropeScaling(o: Json, file: string): RopeScaling {
  const raw = has(o, 'rope_scaling') ? o.rope_scaling : o.rope_parameters;
  if (raw === undefined || raw === null) return { type: 'default' };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadModelError(`${file}: rope_scaling must be an object or null; fix the config`);
  const r = raw as Json;
  const type = r.rope_type ?? r.type ?? 'default';
  const where = `${file}: rope_scaling`;
  switch (type) {
    case 'default':
    case 'dynamic':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: num(r, 'factor', where) };
    case 'llama3': {
      const s = {
        type: 'llama3', factor: num(r, 'factor', where), lowFreqFactor: num(r, 'low_freq_factor', where), highFreqFactor: num(r, 'high_freq_factor', where),
        originalMaxPositions: int(r, 'original_max_position_embeddings', where),
      } as const;
      if (!(s.highFreqFactor > s.lowFreqFactor)) throw new BadModelError(`${where}: high_freq_factor must exceed low_freq_factor; fix the config`);
      return s;
    }
    default:
      throw new BadModelError(`${file}: rope_scaling type ${JSON.stringify(type)} is not supported; this engine runs ${ROPE_TYPES}`);
  }
}

/** rope_scaling as config.json writes it: null for plain rotary. */
export function ropeJson(p: Position): Record<string, unknown> | null {
  if (p.kind !== 'rotary' || p.scaling.type === 'default') return null;
  const s = p.scaling;
  return s.type === 'linear'
    ? { rope_type: 'linear', factor: s.factor }
    : { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositions };
}
