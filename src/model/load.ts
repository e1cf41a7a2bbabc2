// A safetensors checkpoint -> Model on the device, tensor by tensor (a 6 GB gpt2-xl is
// never held in memory twice). Browser-safe: file access comes in as a ByteSource.
// F16 and BF16 matrices stay 16-bit on the device (half the memory; the kernels that
// read weights decode them); their small vectors (biases, layer norms) are widened.
import type { Kernels } from '../gpu/kernels.ts';
import { upload, uploadFrom } from '../gpu/buffers.ts';
import type { DType, Tensor } from '../tensor.ts';
import { Gpt2Tokenizer } from '../tokenizer/gpt2-bpe.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { BadModelError, parameterShapes, UNEMBED, type ModelConfig } from './config.ts';
import { familyOf, readConfig } from './families/index.ts';
import { checkFiniteHalves, checkFiniteTensor } from './finite.ts';
import { Model } from './model.ts';
import { openSafetensors, type ByteSource, type Dtype, type SafetensorsFile } from './safetensors.ts';

export interface LoadedModel {
  model: Model;
  tokenizer: Tokenizer;
  /** GPT-2 ids of a reduced vocabulary declared in the metadata, if any. */
  vocab?: number[];
  /** The safetensors metadata (e.g. `training`, the command that made the default model). */
  metadata: Readonly<Record<string, string>>;
}

/** Float dtypes the loader accepts; checked before any upload so a bad one fails at once. */
const WEIGHT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadModelError(`${what} is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Loads a checkpoint of any supported family. `configJson` is the parsed config.json
 * when there is one; otherwise the file's metadata must carry it under "config".
 */
export async function loadModelFrom(k: Kernels, src: ByteSource, configJson?: unknown): Promise<LoadedModel> {
  const file = await openSafetensors(src);
  const where = src.name;
  const metaConfig = file.metadata.config;
  if (configJson === undefined && metaConfig === undefined) {
    throw new BadModelError(`${where}: no config.json beside the weights and no "config" in the safetensors metadata; put the model's config.json in the same directory`);
  }
  const config = readConfig(configJson ?? parseJson(metaConfig!, `${where}: metadata "config"`), configJson !== undefined ? 'config.json' : `${where} metadata`);
  const vocab = file.metadata.vocab === undefined ? undefined : parseVocab(file.metadata.vocab, config, where);

  const family = familyOf(config);
  const shapes = parameterShapes(config);
  // Messages name tensors as the checkpoint does (less any stored prefix).
  const shown = (name: string) => family.checkpointName(name);
  const byName = new Map<string, string>();
  for (const stored of file.tensors.keys()) {
    const name = family.canonical(stored);
    if (name === null) continue;
    if (name === undefined || (!shapes.has(name) && name !== UNEMBED)) {
      throw new BadModelError(`${where}: unexpected tensor ${name === undefined ? stored : shown(name)} for a ${family.displayName} with ${config.nLayer} layers; the config does not match the weights`);
    }
    if (byName.has(name)) throw new BadModelError(`${where}: tensor ${shown(name)} appears twice (under two stored names)`);
    byName.set(name, stored);
    const dtype = file.tensors.get(stored)!.dtype;
    if (!WEIGHT_DTYPES.includes(dtype)) {
      throw new BadModelError(`${where}: tensor ${shown(name)} has dtype ${dtype}, which is not supported for weights (${WEIGHT_DTYPES.join(', ')}); convert the checkpoint to one of those`);
    }
  }

  const params = new Map<string, Tensor>();
  try {
    // Dawn frees an upload's staging copy only when a submit completes: sync every
    // 64 MB so a large checkpoint never holds twice its size.
    let pending = 0;
    for (const [name, shape] of shapes) {
      const t = await loadTensor(k, file, byName, name, shape, where, shown(name));
      params.set(name, t);
      pending += t.bytes;
      if (pending > 64 << 20) {
        await k.sync();
        pending = 0;
      }
    }
    const head = byName.has(UNEMBED) && (await separateHead(file, byName, config, where, shown));
    if (head) params.set(UNEMBED, await loadTensor(k, file, byName, UNEMBED, [config.vocabSize, config.nEmbd], where, shown(UNEMBED)));
    const model = new Model(k, config, params);
    return { model, tokenizer: new Gpt2Tokenizer(vocab), metadata: file.metadata, ...(vocab ? { vocab } : {}) };
  } catch (e) {
    for (const t of params.values()) t.dispose();
    throw e;
  }
}

/** Device dtype of a stored float tensor: 16-bit matrices stay packed. */
function deviceType(dtype: Dtype, shape: readonly number[]): DType {
  if (shape.length !== 2) return 'f32';
  return dtype === 'F16' ? 'f16' : dtype === 'BF16' ? 'bf16' : 'f32';
}

/** F32 tensors and 16-bit matrices go from the file straight into GPU memory; the rest are converted first. */
async function loadTensor(k: Kernels, file: SafetensorsFile, byName: Map<string, string>, name: string, shape: number[], where: string, shown: string): Promise<Tensor> {
  const stored = checkShape(file, byName, name, shape, where, shown);
  const dtype = file.tensors.get(stored)!.dtype;
  const type = deviceType(dtype, shape);
  if (dtype === 'F32' || type !== 'f32') {
    return uploadFrom(k, shape, async (bytes, from) => {
      await file.readInto(stored, bytes, from);
      if (dtype === 'F32') checkFiniteTensor(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), shown, where);
      else checkFiniteHalves(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2), dtype as 'F16' | 'BF16', shown, where);
    }, shown, type);
  }
  const data = await file.readF32(stored);
  checkFiniteTensor(data, shown, where);
  return upload(k, shape, data, 'f32', shown);
}

function checkShape(file: SafetensorsFile, byName: Map<string, string>, name: string, shape: number[], where: string, shown: string): string {
  const stored = byName.get(name);
  if (!stored) throw new BadModelError(`${where}: missing tensor ${shown} [${shape}]; the checkpoint is incomplete or of another model family`);
  const info = file.tensors.get(stored)!;
  if (info.shape.join(',') !== shape.join(',')) {
    throw new BadModelError(`${where}: tensor ${shown} has shape [${info.shape}] but the config implies [${shape}]; the config does not match the weights`);
  }
  return stored;
}

/** A stored head equal to the embedding, byte for byte, is the usual tied head; a different one becomes D. */
async function separateHead(file: SafetensorsFile, byName: Map<string, string>, config: ModelConfig, where: string, shown: (name: string) => string): Promise<boolean> {
  const shape = [config.vocabSize, config.nEmbd];
  const head = checkShape(file, byName, UNEMBED, shape, where, shown(UNEMBED));
  const embedding = checkShape(file, byName, 'embed.weight', shape, where, shown('embed.weight'));
  const [h, w] = [file.tensors.get(head)!, file.tensors.get(embedding)!];
  if (h.dtype !== w.dtype) return true;
  // In chunks, so two vocabulary-sized tensors are never on the host at once.
  const chunk = 16 << 20;
  const a = new Uint8Array(chunk);
  const b = new Uint8Array(chunk);
  for (let from = 0; from < h.end - h.begin; from += chunk) {
    const n = Math.min(chunk, h.end - h.begin - from);
    await file.readInto(head, a.subarray(0, n), from);
    await file.readInto(embedding, b.subarray(0, n), from);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return true;
  }
  return false;
}

function parseVocab(text: string, config: ModelConfig, where: string): number[] {
  const v = parseJson(text, `${where}: metadata "vocab"`);
  if (!Array.isArray(v) || v.length !== config.vocabSize || !v.every((id) => Number.isInteger(id))) {
    throw new BadModelError(`${where}: metadata "vocab" must be a list of ${config.vocabSize} GPT-2 token ids (vocab_size)`);
  }
  return v as number[];
}
