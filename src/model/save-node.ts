// Writes a (possibly edited) model as a Hugging Face directory: config.json and
// model.safetensors with the source checkpoint's tensor names (a sharded source is
// written as one file; a parameter stored in parts is split back into them). Parameters come from
// the GPU, unedited ones in the source's dtype (a 16-bit one bit for bit), edited
// ones in F32 unless asked to round them back; tensors that are not parameters
// (mask buffers) and the metadata come from the source file. The directory is built beside its final path
// and renamed into place, so a failure never leaves a half-written model.
import { copyFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readAll, readBits } from '../gpu/buffers.ts';
import { f32ToBf16, f32ToF16, bf16ToF32, f16ToF32 } from '../half.ts';
import type { Tensor } from '../tensor.ts';
import { UNEMBED } from './config.ts';
import { modelFiles, tokenizerPaths } from './load-node.ts';
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

/** Values [from, from + n) of a tensor read back, as is or sliced when it was stored in parts. */
const part = <T extends Float32Array | Uint16Array>(x: T, from: number, n: number): T => (from === 0 && n === x.length ? x : (x.subarray(from, from + n) as T));

/**
 * One parameter as written: 16-bit ones stay 16-bit unless edited (then F32, or rounded
 * with `dtype: 'source'`). `from` is where this stored tensor starts in a parameter
 * concatenated from several (Llama's q/k/v_proj), in values.
 */
async function paramToWrite(model: Model, param: string, name: string, shape: number[], source: Dtype, opts: SaveOptions, rounded: Rounding[], from: number): Promise<TensorToWrite> {
  const t: Tensor = model.param(param);
  const n = shape.reduce((a, b) => a * b, 1);
  if (t.packed) return { name, dtype: t.dtype === 'f16' ? 'F16' : 'BF16', shape, data: part(await readBits(model.k, t), from, n) };
  const [all] = (await readAll(model.k, [t])) as Float32Array[];
  const data = part(all!, from, n);
  const edited = model.original(param);
  if (!isHalf(source)) return { name, dtype: 'F32', shape, data: data! };
  // Unedited values came from the source's 16 bits, so they round back exactly.
  if (!edited) return { name, dtype: source, shape, data: roundTo(source, data!) };
  if (opts.dtype !== 'source') return { name, dtype: 'F32', shape, data: data! };
  const bits = roundTo(source, data!);
  const [was] = (await readAll(model.k, [edited])) as Float32Array[];
  rounded.push({ name, dtype: source, relative: roundingShare(decode(source, bits), data!, part(was!, from, n)) });
  return { name, dtype: source, shape, data: bits };
}

/** Where stored tensor `name` starts in its canonical parameter, in values: after the parts stored before it. */
function offsetIn(model: Model, canonical: string, name: string, shapes: ReadonlyMap<string, readonly number[]>): number {
  const parts = model.family.parts(canonical);
  const before = parts.slice(0, Math.max(0, parts.indexOf(name)));
  return before.reduce((at, p) => at + (shapes.get(p) ?? []).reduce((x, y) => x * y, 1), 0);
}

/** Returns, per edited matrix rounded back to 16 bits, how much the rounding changed its edit. */
export async function saveModelDir(model: Model, source: string, out: string, opts: SaveOptions = {}): Promise<Rounding[]> {
  const files = await modelFiles(source);
  const tokenizer = await tokenizerPaths(files);
  const tensors: TensorToWrite[] = [];
  const rounded: Rounding[] = [];
  const srcs = [];
  let metadata: Record<string, string>;
  try {
    for (const shard of files.shards) srcs.push(await fileSource(shard));
    const shards = await Promise.all(srcs.map((src) => openSafetensors(src)));
    metadata = { ...shards[0]!.metadata, ...opts.metadata };
    const shapes = new Map(shards.flatMap((f) => [...f.tensors].map(([name, info]) => [name, info.shape] as const)));
    // A tied head stored beside the embedding is written from the embedding.
    const paramOf = (name: string | null | undefined) => (name && model.params.has(name) ? name : name === UNEMBED ? 'embed.weight' : undefined);
    // Shards are written as one file: a checkpoint is read by tensor name, not by file.
    for (const file of shards) {
      for (const [name, { shape, dtype }] of file.tensors) {
        const canonical = model.family.canonical(name);
        const param = paramOf(canonical);
        tensors.push(param ? await paramToWrite(model, param, name, shape, dtype, opts, rounded, offsetIn(model, canonical!, name, shapes)) : { name, dtype: 'F32', shape, data: await file.readF32(name) });
      }
    }
  } finally {
    for (const src of srcs) await src.close();
  }

  await replaceDirAtomic(out, async (dir) => {
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, metadata);
    if (files.config) await copyFile(files.config, join(dir, 'config.json'));
    else await writeFile(join(dir, 'config.json'), `${JSON.stringify(model.family.writeConfig(model.config), null, 2)}\n`);
    // Without its tokenizer files the copy of a Llama-family model would not load; GPT-2's tokenizer is built in.
    if (model.family.tokenizer === 'hf-json') for (const path of tokenizer) await copyFile(path, join(dir, basename(path)));
  }, opts.replace ?? false);
  return rounded;
}
