// The families the engine reads, keyed by config.json's model_type or architectures.
import { BadInputError } from '../../errors.ts';
import { BadModelError, outputBlocks, parameterShapes, ROLES, type ModelConfig, type Role } from '../config.ts';
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
 * supported family's checkpoint name (mlp.c_proj, self_attn.k_proj). Names are read
 * before a model is loaded, so every family's names count.
 */
export function roleNamed(name: string): Role | undefined {
  const lower = name.toLowerCase();
  if (Object.hasOwn(ALIASES, lower)) return ALIASES[lower];
  return ROLES.find((r) => r === lower || FAMILIES.some((f) => f.moduleParts[r].includes(lower)));
}

/** A view's full module name (h.3.mlp.c_proj, layers.3.mlp.down_proj): the family is the one whose checkpoints name the module so. */
export function blockNameOf(layer: number, module: string): string {
  const family = FAMILIES.find((f) => ROLES.some((r) => f.moduleParts[r].includes(module))) ?? defaultFamily;
  return family.blockName(layer, module);
}

/** Every accepted module name, for messages. */
export const MODULE_NAMES = [...new Set([...FAMILIES.flatMap((f) => ROLES.flatMap((r) => f.moduleParts[r])), ...Object.keys(ALIASES), ...ROLES])].join(', ');

/**
 * One linear module of a block as the checkpoint stores it: a role's whole matrix, or
 * one of the stored matrices the engine joins into a role's (Llama's k_proj). A part
 * reads the role's x_i; its delta_i is its columns of the role's delta_i.
 */
export interface BlockModule {
  readonly role: Role;
  /** The checkpoint's name inside a block, e.g. self_attn.k_proj. */
  readonly name: string;
  /** Its columns of the role's output: [from, from + width). */
  readonly from: number;
  readonly width: number;
  /** The role's matrix is this module alone. */
  readonly whole: boolean;
}

/** Every stored module of a role, in the order of its output's blocks. */
function modulesOf(config: ModelConfig, role: Role): BlockModule[] {
  const parts = familyOf(config).moduleParts[role];
  const blocks = outputBlocks(config, role);
  if (parts.length === 1) return [{ role, name: parts[0]!, from: 0, width: blocks.reduce((a, b) => a + b, 0), whole: true }];
  if (parts.length !== blocks.length) throw new Error(`${config.family}: ${role} has ${blocks.length} output blocks but ${parts.length} stored modules`);
  let from = 0;
  return parts.map((name, i) => {
    const m = { role, name, from, width: blocks[i]!, whole: false };
    from += m.width;
    return m;
  });
}

/**
 * The block modules `names` select, in their order, each once: a role (or a name
 * that stands for one, such as another family's module) selects all its stored
 * modules, ff1 the paper's FF1 (family.ff1), a stored module's own name just that
 * module. All of them when `names` is absent.
 */
export function blockModules(config: ModelConfig, names: readonly string[] = ROLES): BlockModule[] {
  const family = familyOf(config);
  const picked = names.flatMap((name) => {
    const lower = name.toLowerCase();
    const role = roleNamed(lower);
    if (!role) throw new BadInputError(`unknown module "${name}": choose from ${MODULE_NAMES}`);
    const all = modulesOf(config, role);
    const one = all.find((m) => !m.whole && m.name === (lower === 'ff1' ? family.ff1 : lower));
    return one ? [one] : all;
  });
  return picked.filter((m, i) => picked.findIndex((p) => p.name === m.name) === i);
}

/** The paper's FF1 or FF2 a module name is (ff_in, ff_out), for the figures; undefined for others, a gated MLP's gate_proj among them. */
export function paperRole(name: string): 'ff_in' | 'ff_out' | undefined {
  const role = roleNamed(name);
  if (role === 'ff_out') return role;
  return FAMILIES.some((f) => f.ff1 === name) ? 'ff_in' : undefined;
}

/** Every parameter by the checkpoint's tensor name (as a family's files store them), with its shape, in load order. */
export function checkpointShapes(config: ModelConfig): Map<string, number[]> {
  const family = familyOf(config);
  return new Map([...parameterShapes(config)].map(([name, shape]) => [family.checkpointName(name), shape]));
}

/** A role's stored modules in every family, for help texts: "attn.c_attn / self_attn.q_proj, self_attn.k_proj, self_attn.v_proj". */
export function namesOf(role: Role): string {
  return [...new Set(FAMILIES.map((f) => f.moduleParts[role].join(', ')))].join(' / ');
}

/** The paper's FF1 in every family, for help texts: "mlp.c_fc / mlp.up_proj". */
export const FF1_NAMES = [...new Set(FAMILIES.map((f) => f.ff1))].join(' / ');

/** Rows of each stored part of a parameter concatenated from several (q | k | v, gate | up): its role's output blocks. */
function partRows(config: ModelConfig, canonical: string, count: number, rows: number): number[] {
  if (count === 1) return [rows];
  return outputBlocks(config, /\.(\w+)\.(weight|bias)$/.exec(canonical)![1] as Role);
}

/**
 * A parameter's values as the checkpoint stores them: one tensor, or the parts it was
 * concatenated from along its first dimension (Llama's q_proj, k_proj, v_proj), each
 * named and shaped as Hugging Face writes it.
 */
export function storedParts(config: ModelConfig, canonical: string, shape: readonly number[], data: Float32Array): { name: string; shape: number[]; data: Float32Array }[] {
  const names = familyOf(config).parts(canonical);
  const [rows, ...rest] = shape as [number, ...number[]];
  const width = rest.reduce((a, b) => a * b, 1);
  let at = 0;
  return partRows(config, canonical, names.length, rows).map((r, i) => {
    const part = data.subarray(at * width, (at + r) * width);
    at += r;
    return { name: names[i]!, shape: [r, ...rest], data: part };
  });
}
