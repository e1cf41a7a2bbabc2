// loadModel() for library users in Node: a Hugging Face directory or .safetensors
// file, an embedded model's name (embedded.ts: `llama-default`), or with no path the
// embedded default model (weights/default, shipped beside dist/), on the process-wide
// engine.
import { fileURLToPath } from 'node:url';
import { getEngine } from '../gpu/engine.ts';
import { embeddedModel, type EmbeddedModel } from './embedded.ts';
import type { LoadedModel } from './load.ts';
import { loadModelPath } from './load-node.ts';

/** An embedded model's folder beside dist/ (the bundle lives at dist/*.js). */
export function embeddedModelDir(m: EmbeddedModel): string {
  return fileURLToPath(new URL(`../weights/${m.folder}`, import.meta.url));
}

/** weights/default. */
export function defaultModelDir(): string {
  return embeddedModelDir(embeddedModel(undefined)!);
}

/**
 * The path a --model value stands for: an embedded model's name is its folder (a
 * directory of the same name is reached as ./NAME), anything else a path as given.
 */
export function modelPath(value: string | undefined): string {
  const m = embeddedModel(value);
  return m ? embeddedModelDir(m) : value!;
}

export async function loadModel(path?: string): Promise<LoadedModel> {
  return loadModelPath(await getEngine(), modelPath(path));
}
