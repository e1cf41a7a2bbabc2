// Writes a (possibly edited) model as a Hugging Face directory: config.json and
// model.safetensors with the source checkpoint's tensor names. Parameters come from
// the GPU, unedited ones in the source's dtype (a 16-bit one bit for bit), edited
// ones in F32 unless asked to round them back; tensors that are not parameters
// (mask buffers) and the metadata come from the source file. The directory is built beside its final path
// and renamed into place, so a failure never leaves a half-written model.
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readAll, readBits } from '../gpu/buffers.ts';
import { f32ToBf16, f32ToF16, bf16ToF32, f16ToF32 } from '../half.ts';
import type { Tensor } from '../tensor.ts';
import { UNEMBED } from './config.ts';
import { modelFiles } from './load-node.ts';
import type { Model } from './model.ts';
import { fileSource, replaceDirAtomic, writeSafetensorsFile } from './node-file.ts';
import { openSafetensors, type Dtype, type TensorToWrite } from './safetensors.ts';

export interface SaveOptions {
  /** Replace an existing, non-empty directory (the caller has decided it may). */
  replace?: boolean;
  /** Extra string metadata for model.safetensors (kept beside the source's). */
  metadata?: Record<string, string>;
  /** 'source': edited matrices of a 16-bit checkpoint are rounded back to its dtype instead of written in F32. */
  dtype?: 'f32' | 'source';
}

/** What rounding an edited matrix back to 16 bits did to its edit. */
export interface Rounding {
  name: string;
  dtype: 'F16' | 'BF16';
  /** ||rounded - edited|| / ||edited - original||. */
  relative: number;
}

const isHalf = (d: Dtype): d is 'F16' | 'BF16' => d === 'F16' || d === 'BF16';
const roundTo = (d: 'F16' | 'BF16', x: Float32Array): Uint16Array => (d === 'F16' ? f32ToF16(x) : f32ToBf16(x));
const decode = (d: 'F16' | 'BF16', bits: Uint16Array): Float32Array => (d === 'F16' ? f16ToF32(bits) : bf16ToF32(bits));

/** ||rounded - now|| / ||now - was||, in float64. */
function roundingShare(rounded: Float32Array, now: Float32Array, was: Float32Array): number {
  let error = 0;
  let change = 0;
  for (let i = 0; i < now.length; i++) {
    error += (rounded[i]! - now[i]!) ** 2;
    change += (now[i]! - was[i]!) ** 2;
  }
  return change > 0 ? Math.sqrt(error / change) : 0;
}

/** One parameter as written: 16-bit ones stay 16-bit unless edited (then F32, or rounded with `dtype: 'source'`). */
async function paramToWrite(model: Model, param: string, name: string, shape: number[], source: Dtype, opts: SaveOptions, rounded: Rounding[]): Promise<TensorToWrite> {
  const t: Tensor = model.param(param);
  if (t.packed) return { name, dtype: t.dtype === 'f16' ? 'F16' : 'BF16', shape, data: await readBits(model.k, t) };
  const [data] = (await readAll(model.k, [t])) as Float32Array[];
  const edited = model.original(param);
  if (!isHalf(source)) return { name, dtype: 'F32', shape, data: data! };
  // Unedited values came from the source's 16 bits, so they round back exactly.
  if (!edited) return { name, dtype: source, shape, data: roundTo(source, data!) };
  if (opts.dtype !== 'source') return { name, dtype: 'F32', shape, data: data! };
  const bits = roundTo(source, data!);
  const [was] = (await readAll(model.k, [edited])) as Float32Array[];
  rounded.push({ name, dtype: source, relative: roundingShare(decode(source, bits), data!, was!) });
  return { name, dtype: source, shape, data: bits };
}

/** Returns, per edited matrix rounded back to 16 bits, how much the rounding changed its edit. */
export async function saveModelDir(model: Model, source: string, out: string, opts: SaveOptions = {}): Promise<Rounding[]> {
  const files = await modelFiles(source);
  const src = await fileSource(files.weights);
  const tensors: TensorToWrite[] = [];
  const rounded: Rounding[] = [];
  let metadata: Record<string, string>;
  try {
    const file = await openSafetensors(src);
    metadata = { ...file.metadata, ...opts.metadata };
    const stored = [...file.tensors.keys()];
    // A tied head stored beside the embedding is written from the embedding.
    const paramOf = (name: string | null | undefined) => (name && model.params.has(name) ? name : name === UNEMBED ? 'embed.weight' : undefined);
    for (const name of stored) {
      const { shape, dtype } = file.tensors.get(name)!;
      const param = paramOf(model.family.canonical(name));
      tensors.push(param ? await paramToWrite(model, param, name, shape, dtype, opts, rounded) : { name, dtype: 'F32', shape, data: await file.readF32(name) });
    }
  } finally {
    await src.close();
  }

  await replaceDirAtomic(out, async (dir) => {
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, metadata);
    if (files.config) await copyFile(files.config, join(dir, 'config.json'));
    else await writeFile(join(dir, 'config.json'), `${JSON.stringify(model.family.writeConfig(model.config), null, 2)}\n`);
  }, opts.replace ?? false);
  return rounded;
}
