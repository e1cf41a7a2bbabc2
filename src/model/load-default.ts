// loadModel() for library users in Node: a Hugging Face GPT-2 directory or
// .safetensors file, or with no path the embedded default model (weights/default,
// shipped beside dist/), on the process-wide engine.
import { fileURLToPath } from 'node:url';
import { getEngine } from '../gpu/engine.ts';
import type { LoadedModel } from './load.ts';
import { loadModelPath } from './load-node.ts';

/** weights/default beside dist/ (the bundle lives at dist/*.js). */
export function defaultModelDir(): string {
  return fileURLToPath(new URL('../weights/default', import.meta.url));
}

export async function loadModel(path?: string): Promise<LoadedModel> {
  return loadModelPath(await getEngine(), path ?? defaultModelDir());
}
