// Node side of loading: a directory (config.json + model.safetensors) or one
// .safetensors file whose metadata carries the config. Pickle files are refused.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Kernels } from '../gpu/kernels.ts';
import { BadModelError, type ModelConfig } from './config.ts';
import { readConfig as configOf } from './families/index.ts';
import { loadModelFrom, type LoadedModel } from './load.ts';
import { fileSource } from './node-file.ts';
import { pickleRefusal } from './safetensors.ts';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function readConfig(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadModelError(`${path}: not valid JSON (${(e as Error).message}); fix or re-download config.json`);
  }
}

/** Where a model's weights and config live: a directory, or one .safetensors file with an optional config.json beside it. */
export interface ModelFiles {
  weights: string;
  /** config.json, when there is one. */
  config?: string;
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
    if (!(await exists(weights))) {
      const pickle = ['pytorch_model.bin', 'model.pt'].map((f) => join(path, f));
      for (const p of pickle) if (await exists(p)) throw pickleRefusal(p);
      throw new BadModelError(`${path}: no model.safetensors in this directory`);
    }
    configPath = join(path, 'config.json');
  } else if (basename(path) === 'model.safetensors' || (await exists(join(dirname(path), 'config.json')))) {
    configPath = join(dirname(path), 'config.json');
  }
  return configPath && (await exists(configPath)) ? { weights, config: configPath } : { weights };
}

/** A model's config.json, when it has one: enough to choose documented defaults before the weights load. */
export async function readModelConfig(path: string): Promise<ModelConfig | undefined> {
  const files = await modelFiles(path);
  return files.config ? configOf(await readConfig(files.config), files.config) : undefined;
}

export async function loadModelPath(k: Kernels, path: string): Promise<LoadedModel> {
  const files = await modelFiles(path);
  const config = files.config ? await readConfig(files.config) : undefined;
  const src = await fileSource(files.weights);
  try {
    return await loadModelFrom(k, src, config);
  } finally {
    await src.close();
  }
}
