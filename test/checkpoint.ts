// Random Hugging Face-layout GPT-2 checkpoints written by our safetensors writer,
// with the float64 parameters a reference should use (rounded like the storage dtype);
// and a shipped checkpoint's parameters read back in float64 for the references.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEngine } from '../src/gpu/engine.ts';
import { gpt2 as gpt2Family, gpt2Config, type Gpt2Sizes } from '../src/model/families/gpt2.ts';
import type { LoadedModel } from '../src/model/load.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { fileSource, writeSafetensorsFile } from '../src/model/node-file.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, openSafetensors, type TensorToWrite } from '../src/model/safetensors.ts';
import { gpt2ParamShapesRef, randomGpt2ParamsRef, type Gpt2ParamsRef } from './reference/gpt2.ts';

export type StorageDtype = 'F32' | 'F16' | 'BF16';

export interface CheckpointOptions {
  dtype?: StorageDtype;
  /** Write names as `transformer.h.0...` like some hub checkpoints. */
  prefix?: boolean;
  /** Add the attn.bias / masked_bias buffers older checkpoints carry. */
  maskBuffers?: boolean;
  std?: number;
  /** Changes the drawn parameters before they are stored (damaged or extreme weights). */
  edit?: (params: Gpt2ParamsRef) => void;
}

const roundTrip = (x: Float32Array, dtype: StorageDtype): Float32Array =>
  dtype === 'F16' ? f16ToF32(f32ToF16(x)) : dtype === 'BF16' ? bf16ToF32(f32ToBf16(x)) : x;

/** Drawn parameters as a file stores them in `dtype`: the tensors to write, and the float64 values they hold for a reference. */
export function storedAs(drawn: Readonly<Record<string, Float64Array>>, shapes: Readonly<Record<string, number[]>>, dtype: StorageDtype): { params: Record<string, Float64Array>; tensors: TensorToWrite[] } {
  const params: Record<string, Float64Array> = {};
  const tensors: TensorToWrite[] = [];
  for (const [name, shape] of Object.entries(shapes)) {
    const stored = roundTrip(Float32Array.from(drawn[name]!), dtype);
    params[name] = Float64Array.from(stored);
    tensors.push({ name, dtype, shape, data: stored });
  }
  return { params, tensors };
}

/** Writes dir/config.json + dir/model.safetensors; returns the directory and the reference parameters. */
export async function writeRandomCheckpoint(cfg: Gpt2Sizes, seed: number, opts: CheckpointOptions = {}): Promise<{ dir: string; params: Gpt2ParamsRef }> {
  const dtype = opts.dtype ?? 'F32';
  const dir = mkdtempSync(join(tmpdir(), 'bl-ckpt-'));
  const drawn = randomGpt2ParamsRef(cfg, seed, opts.std ?? 0.3);
  opts.edit?.(drawn);
  const { params, tensors: named } = storedAs(drawn, gpt2ParamShapesRef(cfg), dtype);
  const tensors = named.map((t) => (opts.prefix ? { ...t, name: `transformer.${t.name}` } : t));
  if (opts.maskBuffers) {
    for (let l = 0; l < cfg.nLayer; l++) {
      tensors.push({ name: `h.${l}.attn.bias`, dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) });
      tensors.push({ name: `h.${l}.attn.masked_bias`, dtype: 'F32', shape: [], data: new Float32Array([-1e4]) });
    }
  }
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2Family.writeConfig(gpt2Config(cfg))));
  return { dir, params };
}

/** A random checkpoint (F32 unless `dtype`) loaded on the engine; close() frees the model and deletes the files. */
export async function openRandomModel(cfg: Gpt2Sizes, seed: number, dtype: StorageDtype = 'F32'): Promise<{ loaded: LoadedModel; params: Gpt2ParamsRef; close: () => void }> {
  const { dir, params } = await writeRandomCheckpoint(cfg, seed, { dtype });
  const loaded = await loadModelPath(await getEngine(), dir);
  const close = () => {
    loaded.model.dispose();
    rmSync(dir, { recursive: true, force: true });
  };
  return { loaded, params, close };
}

/** Every tensor of a safetensors file by its stored name, in float64 (a reference's parameters). */
export async function readParamsRef(file: string): Promise<Record<string, Float64Array>> {
  const src = await fileSource(file);
  try {
    const f = await openSafetensors(src);
    const params: Record<string, Float64Array> = {};
    for (const name of f.tensors.keys()) params[name] = Float64Array.from(await f.readF32(name));
    return params;
  } finally {
    await src.close();
  }
}
