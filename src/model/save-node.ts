// Writes a (possibly edited) model as a Hugging Face directory: config.json and
// model.safetensors with the source checkpoint's tensor names, in F32. Parameters
// come from the GPU; tensors that are not parameters (mask buffers) and the
// metadata come from the source file. The directory is built beside its final path
// and renamed into place, so a failure never leaves a half-written model.
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readAll } from '../gpu/buffers.ts';
import { UNEMBED } from './config.ts';
import { modelFiles } from './load-node.ts';
import type { Model } from './model.ts';
import { fileSource, replaceDirAtomic, writeSafetensorsFile } from './node-file.ts';
import { openSafetensors, type TensorToWrite } from './safetensors.ts';

export interface SaveOptions {
  /** Replace an existing, non-empty directory (the caller has decided it may). */
  replace?: boolean;
  /** Extra string metadata for model.safetensors (kept beside the source's). */
  metadata?: Record<string, string>;
}

export async function saveModelDir(model: Model, source: string, out: string, opts: SaveOptions = {}): Promise<void> {
  const files = await modelFiles(source);
  const src = await fileSource(files.weights);
  let tensors: TensorToWrite[];
  let metadata: Record<string, string>;
  try {
    const file = await openSafetensors(src);
    metadata = { ...file.metadata, ...opts.metadata };
    const stored = [...file.tensors.keys()];
    // A tied head stored beside the embedding is written from the embedding.
    const paramOf = (name: string | null | undefined) => (name && model.params.has(name) ? name : name === UNEMBED ? 'embed.weight' : undefined);
    const params = stored.map((n) => paramOf(model.family.canonical(n)));
    const data = await readAll(model.k, params.filter((p) => p !== undefined).map((p) => model.param(p)));
    let next = 0;
    tensors = [];
    for (const [i, name] of stored.entries()) {
      const shape = file.tensors.get(name)!.shape;
      tensors.push({ name, dtype: 'F32', shape, data: params[i] ? (data[next++] as Float32Array) : await file.readF32(name) });
    }
  } finally {
    await src.close();
  }

  await replaceDirAtomic(out, async (dir) => {
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, metadata);
    if (files.config) await copyFile(files.config, join(dir, 'config.json'));
    else await writeFile(join(dir, 'config.json'), `${JSON.stringify(model.family.writeConfig(model.config), null, 2)}\n`);
  }, opts.replace ?? false);
}
