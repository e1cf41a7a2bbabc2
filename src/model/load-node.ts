// Node side of loading: a directory (config.json + model.safetensors, or shards listed
// by model.safetensors.index.json) or one .safetensors file whose metadata carries
// the config. Pickle files are refused.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Kernels } from '../gpu/kernels.ts';
import { BadModelError, type ModelConfig } from './config.ts';
import { readConfig as configOf } from './families/index.ts';
import { loadModelFrom, type LoadedModel, type TokenizerTexts } from './load.ts';
import { fileSource } from './node-file.ts';
import { pickleRefusal } from './safetensors.ts';
import { SHARD_INDEX, shardNames } from './shard-index.ts';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadModelError(`${path}: not valid JSON (${(e as Error).message}); fix or re-download config.json`);
  }
}

/** Where a model's weights and config live: a directory, or one .safetensors file with an optional config.json beside it. */
export interface ModelFiles {
  /** model.safetensors, the index of a sharded checkpoint, or the file given. */
  weights: string;
  /** The safetensors files to read: `weights` itself, or the shards its index lists. */
  shards: string[];
  /** config.json, when there is one. */
  config?: string;
}

/** The shard files an index names, each once, in the order they first appear. */
async function shardsOf(index: string): Promise<string[]> {
  const shards = shardNames(await readFile(index, 'utf8'), index).map((n) => join(dirname(index), n));
  for (const s of shards) if (!(await exists(s))) throw new BadModelError(`${s}: listed in ${SHARD_INDEX} but missing; download every shard`);
  return shards;
}

export async function modelFiles(path: string): Promise<ModelFiles> {
  const info = await stat(path).catch(() => {
    throw new BadModelError(`${path}: no such file or directory; pass a model directory (config.json + model.safetensors) or a .safetensors file`);
  });
  if (/\.(bin|pt|pth|ckpt)$/i.test(path)) throw pickleRefusal(path);
  let weights = path;
  let configPath: string | undefined;
  if (info.isDirectory()) {
    weights = join(path, 'model.safetensors');
    if (!(await exists(weights)) && (await exists(join(path, SHARD_INDEX)))) weights = join(path, SHARD_INDEX);
    else if (!(await exists(weights))) {
      const pickle = ['pytorch_model.bin', 'model.pt'].map((f) => join(path, f));
      for (const p of pickle) if (await exists(p)) throw pickleRefusal(p);
      throw new BadModelError(`${path}: no model.safetensors or ${SHARD_INDEX} in this directory`);
    }
    configPath = join(path, 'config.json');
  } else if (basename(path) === 'model.safetensors' || basename(path) === SHARD_INDEX || (await exists(join(dirname(path), 'config.json')))) {
    configPath = join(dirname(path), 'config.json');
  }
  const shards = basename(weights) === SHARD_INDEX ? await shardsOf(weights) : [weights];
  return configPath && (await exists(configPath)) ? { weights, shards, config: configPath } : { weights, shards };
}

/** A model's config.json, when it has one: enough to choose documented defaults before the weights load. */
export async function readModelConfig(path: string): Promise<ModelConfig | undefined> {
  const files = await modelFiles(path);
  return files.config ? configOf(await readJson(files.config), files.config) : undefined;
}

/** The tokenizer files a Llama-family checkpoint carries beside its weights (a copy of the model needs them too). */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/** Those of TOKENIZER_FILES that are beside the weights. */
export async function tokenizerPaths(files: ModelFiles): Promise<string[]> {
  const paths = TOKENIZER_FILES.map((name) => join(dirname(files.weights), name));
  return (await Promise.all(paths.map(exists))).flatMap((there, i) => (there ? [paths[i]!] : []));
}

/** Their texts: the loader says when a family needs them. */
async function tokenizerTexts(files: ModelFiles): Promise<TokenizerTexts> {
  const texts = new Map(await Promise.all((await tokenizerPaths(files)).map(async (p) => [basename(p), await readFile(p, 'utf8')] as const)));
  return { tokenizerJson: texts.get(TOKENIZER_FILES[0]), tokenizerConfig: texts.get(TOKENIZER_FILES[1]) };
}

export async function loadModelPath(k: Kernels, path: string): Promise<LoadedModel> {
  const files = await modelFiles(path);
  const config = files.config ? await readJson(files.config) : undefined;
  const srcs = [];
  try {
    for (const shard of files.shards) srcs.push(await fileSource(shard));
    return await loadModelFrom(k, srcs, config, await tokenizerTexts(files));
  } finally {
    for (const src of srcs) await src.close();
  }
}
