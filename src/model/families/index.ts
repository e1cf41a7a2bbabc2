// The families the engine reads, keyed by config.json's model_type or architectures.
import { BadModelError, parameterShapes, ROLES, type ModelConfig, type Role } from '../config.ts';
import type { Family } from './family.ts';
import { gpt2 } from './gpt2.ts';
import { llama, mistral, qwen2 } from './llama.ts';
import { neox } from './neox.ts';

export type { Family };

const FAMILIES: readonly Family[] = [gpt2, llama, mistral, qwen2, neox];

/** The embedded model's family: the web page names its module boxes by it until a model is loaded. */
export const defaultFamily: Family = gpt2;

const supported = () => FAMILIES.flatMap((f) => f.modelTypes).join(', ');

/** The family of a parsed config.json; one without model_type or architectures is read as GPT-2, as before families existed. */
function familyOfConfig(json: Readonly<Record<string, unknown>>, file: string): Family {
  const type = json.model_type;
  const archs = Array.isArray(json.architectures) ? json.architectures : [];
  if (type === undefined && archs.length === 0) return gpt2;
  const found = FAMILIES.find((f) => (typeof type === 'string' && f.modelTypes.includes(type)) || archs.some((a) => f.architectures.includes(a as string)));
  if (found) return found;
  throw new BadModelError(`${file}: model_type ${JSON.stringify(type ?? archs[0])} is not supported; this engine reads ${supported()}`);
}

/** Reads a config.json (or safetensors "config" metadata) with its family's reader. */
export function readConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BadModelError(`${file}: config is not a JSON object`);
  const o = json as Record<string, unknown>;
  return familyOfConfig(o, file).readConfig(o, file);
}

export function familyOf(config: ModelConfig): Family {
  const found = FAMILIES.find((f) => f.name === config.family);
  if (!found) throw new BadModelError(`model family ${JSON.stringify(config.family)} is not supported; this engine reads ${supported()}`);
  return found;
}

/** The paper's names for the MLP matrices. */
const ALIASES: Readonly<Record<string, Role>> = { ff1: 'ff_in', ff2: 'ff_out' };

/**
 * The role a module name stands for, any case: a role (ff_out), an alias (ff2) or a
 * supported family's checkpoint name (mlp.c_proj). Names are read before a model is
 * loaded, so every family's names count.
 */
export function roleNamed(name: string): Role | undefined {
  const lower = name.toLowerCase();
  if (Object.hasOwn(ALIASES, lower)) return ALIASES[lower];
  return ROLES.find((r) => r === lower || FAMILIES.some((f) => f.modules[r] === lower));
}

/** Every accepted module name, for messages. */
export const MODULE_NAMES = [...new Set([...FAMILIES.flatMap((f) => ROLES.map((r) => f.modules[r])), ...Object.keys(ALIASES), ...ROLES])].join(', ');

/** Every parameter by the checkpoint's tensor name (as a family's files store them), with its shape, in load order. */
export function checkpointShapes(config: ModelConfig): Map<string, number[]> {
  const family = familyOf(config);
  return new Map([...parameterShapes(config)].map(([name, shape]) => [family.checkpointName(name), shape]));
}

/** A role's name in every family, for help texts: "mlp.c_proj" now, one name per family as they are added. */
export function namesOf(role: Role): string {
  return [...new Set(FAMILIES.map((f) => f.modules[role]))].join(' / ');
}
