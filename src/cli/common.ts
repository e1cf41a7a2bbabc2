// What every subcommand shares: argument parsing with one-line usage errors, the
// model option (the embedded default when absent), and error reporting.
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { getEngine } from '../gpu/engine.ts';
import { loadModelPath } from '../model/load-node.ts';
import { sizesOf } from '../model/config.ts';
import type { Model } from '../model/model.ts';
import type { LoadedModel } from '../model/load.ts';
import { weightMemory } from '../model/memory.ts';
import { embeddedModel } from '../model/embedded.ts';
import { defaultModelDir, modelPath } from '../model/load-default.ts';
import { BadInputError } from '../errors.ts';

export { defaultModelDir, modelPath };

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const MODEL_OPTION = { model: { type: 'string' } } as const satisfies Options;

export function parse<O extends Options>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' }, debug: { type: 'boolean' } }, strict: true, allowPositionals });
  } catch (e) {
    // Node puts its hint (e.g. `--layers=-1` for a value that starts with a dash) on later lines.
    throw new UsageError(`${(e as Error).message.split('\n').join(' ')} (usage: ${usage.split('\n')[0]})`);
  }
}

export async function loadModel(path: string | undefined): Promise<LoadedModel> {
  const dir = modelPath(path);
  const embedded = embeddedModel(path);
  if (embedded && !existsSync(`${dir}/model.safetensors`)) {
    const what = path === undefined ? 'no --model given and the embedded default model' : `the embedded model ${embedded.name}`;
    throw new UsageError(`${what} is missing (${dir}); pass --model DIR with config.json + model.safetensors`);
  }
  const k = await getEngine();
  process.stderr.write(`backward-lens: ${k.gpu.adapterName}; loading ${path ?? 'the default model'}…\n`);
  return loadModelPath(k, dir);
}

/** Whether a --model value picks the embedded GPT-2, whose documented edit defaults (MODEL_CARD.md) apply. */
export function isDefaultModel(value: string | undefined): boolean {
  return embeddedModel(value)?.name === 'default';
}

/** The `model` object of the JSON reports: where it came from, its config, the device memory of its weights. */
export function modelInfo(path: string | undefined, model: Model) {
  return { source: path ?? 'default', ...sizesOf(model.config), memory: weightMemory(model) };
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  return value;
}

export function oneOf<T extends string>(value: string | undefined, flag: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}

/** Prints each warning of a prepared pair on stderr, or with --strict refuses the first. */
export function reportWarnings(warnings: readonly string[], strict: boolean, where = ''): void {
  const lines = warnings.map((w) => (where ? `${where}: ${w}` : w));
  if (strict && lines.length > 0) throw new BadInputError(`${lines[0]} (--strict)`);
  for (const line of lines) process.stderr.write(`backward-lens: warning: ${line}\n`);
}

/** Continuation length capped at the model's context (generating past it only slides the window), saying so when it is. */
export function capTokens(tokens: number, nPositions: number): number {
  if (tokens <= nPositions) return tokens;
  process.stderr.write(`backward-lens: --tokens ${tokens} is capped at the model's context, ${nPositions} tokens\n`);
  return nPositions;
}
