// Second-moment statistics on disk: one safetensors file per layer, `mom2-layer{L}`,
// holding C = E[k kᵀ] [f, f] (F32) with metadata that says what it was made from.
// The model is identified by the sha256 of its weights (a sharded model's shards in
// order), so a cache made for another model (or copied from another layer) is refused
// instead of silently used.
import { BadInputError } from '../../errors.ts';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileSource, writeSafetensorsFile } from '../../model/node-file.ts';
import { openSafetensors } from '../../model/safetensors.ts';

export const MOMENT_TENSOR = 'mom2';

export interface MomentMeta {
  /** sha256 (hex) of the model's weights file. */
  model_sha256: string;
  layer: number;
  /** What text the keys were read on. */
  corpus: string;
  /** sha256 (hex) of that text's file; absent in caches written before it was recorded. */
  corpus_sha256?: string;
  tokens: number;
  /** The token count asked for ("all", or --tokens N, which whole windows round down). */
  requested?: string;
  /** Storage dtype, and how it was summed. */
  dtype: string;
}

export class StatsCacheError extends BadInputError {
  override name = 'StatsCacheError';
}

/** sha256 of a file, streamed (a 6 GB gpt2-xl is never read whole). */
export async function fileSha256(path: string): Promise<string> {
  return filesSha256([path]);
}

/** sha256 of the files' contents one after the other: a sharded model's weights (its index alone names the shards, not what they hold). */
export async function filesSha256(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const momentFile = (dir: string, layer: number): string => join(dir, `mom2-layer${layer}.safetensors`);

/**
 * The cached moment of `layer`, or undefined when there is no file. A file made for
 * another model or layer is a StatsCacheError (one line naming both).
 */
export async function readMoment(dir: string, layer: number, modelSha256: string, f: number): Promise<{ moment: Float32Array; meta: MomentMeta } | undefined> {
  const path = momentFile(dir, layer);
  if (!(await stat(path).then((s) => s.isFile(), () => false))) return undefined;
  const src = await fileSource(path);
  try {
    const file = await openSafetensors(src);
    const m = file.metadata;
    const meta: MomentMeta = {
      model_sha256: m.model_sha256 ?? '', layer: Number(m.layer), corpus: m.corpus ?? '', tokens: Number(m.tokens), dtype: m.dtype ?? '',
      ...(m.corpus_sha256 === undefined ? {} : { corpus_sha256: m.corpus_sha256 }), ...(m.requested === undefined ? {} : { requested: m.requested }),
    };
    if (meta.model_sha256 !== modelSha256) {
      throw new StatsCacheError(`${path} holds statistics of another model (sha256 ${meta.model_sha256.slice(0, 12) || 'missing'}…, this one is ${modelSha256.slice(0, 12)}…); delete it or choose another cache directory`);
    }
    if (meta.layer !== layer) throw new StatsCacheError(`${path} holds statistics of layer ${m.layer}, not ${layer}; delete it or choose another cache directory`);
    const info = file.tensors.get(MOMENT_TENSOR);
    if (!info || info.shape.join(',') !== `${f},${f}`) throw new StatsCacheError(`${path} has no ${MOMENT_TENSOR} tensor of shape [${f}, ${f}]; delete it and run backward-lens stats again`);
    return { moment: await file.readF32(MOMENT_TENSOR), meta };
  } finally {
    await src.close();
  }
}

/** Writes atomically (temp file + rename), creating the directory. */
export async function writeMoment(dir: string, moment: Float64Array, f: number, meta: MomentMeta): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = momentFile(dir, meta.layer);
  const metadata = { backward_lens: 'second moment E[k k^T] of FF2 input (ff_out), ROME/MEMIT key statistics', ...Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])) };
  await writeSafetensorsFile(path, [{ name: MOMENT_TENSOR, dtype: 'F32', shape: [f, f], data: Float32Array.from(moment) }], metadata);
  return path;
}
