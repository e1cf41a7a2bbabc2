// A safetensors checkpoint -> Model on the device, tensor by tensor (a 6 GB gpt2-xl is
// never held in memory twice). Browser-safe: file access comes in as a ByteSource.
import type { Kernels } from '../gpu/kernels.ts';
import { upload, uploadFrom } from '../gpu/buffers.ts';
import type { Tensor } from '../tensor.ts';
import { Gpt2Tokenizer } from '../tokenizer/gpt2-bpe.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { BadModelError, parameterShapes, UNEMBED, type ModelConfig } from './config.ts';
import { familyOf, readConfig } from './families/index.ts';
import { checkFiniteTensor } from './finite.ts';
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

/** Float dtypes the loader converts to f32; checked before any upload so a bad one fails at once. */
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
      pending += t.size * 4;
      if (pending > 64 << 20) {
        await k.sync();
        pending = 0;
      }
    }
    const head = byName.has(UNEMBED) ? await separateHead(file, byName, config, where, shown) : undefined;
    if (head) params.set(UNEMBED, upload(k, [config.vocabSize, config.nEmbd], head, 'f32', shown(UNEMBED)));
    const model = new Model(k, config, params);
    return { model, tokenizer: new Gpt2Tokenizer(vocab), metadata: file.metadata, ...(vocab ? { vocab } : {}) };
  } catch (e) {
    for (const t of params.values()) t.dispose();
    throw e;
  }
}

/** F32 tensors go from the file straight into GPU memory; F16/BF16 are converted first. */
async function loadTensor(k: Kernels, file: SafetensorsFile, byName: Map<string, string>, name: string, shape: number[], where: string, shown: string): Promise<Tensor> {
  const stored = checkShape(file, byName, name, shape, where, shown);
  if (file.tensors.get(stored)!.dtype === 'F32') {
    return uploadFrom(k, shape, async (bytes, from) => {
      await file.readF32Into(stored, bytes, from);
      checkFiniteTensor(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), shown, where);
    }, shown);
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

/** A stored head equal to the embedding is the usual tied head; a different one becomes D. */
async function separateHead(file: SafetensorsFile, byName: Map<string, string>, config: ModelConfig, where: string, shown: (name: string) => string): Promise<Float32Array | undefined> {
  const shape = [config.vocabSize, config.nEmbd];
  const head = await file.readF32(checkShape(file, byName, UNEMBED, shape, where, shown(UNEMBED)));
  checkFiniteTensor(head, shown(UNEMBED), where);
  const embedding = await file.readF32(checkShape(file, byName, 'embed.weight', shape, where, shown('embed.weight')));
  return head.every((v, i) => v === embedding[i]) ? undefined : head;
}

function parseVocab(text: string, config: ModelConfig, where: string): number[] {
  const v = parseJson(text, `${where}: metadata "vocab"`);
  if (!Array.isArray(v) || v.length !== config.vocabSize || !v.every((id) => Number.isInteger(id))) {
    throw new BadModelError(`${where}: metadata "vocab" must be a list of ${config.vocabSize} GPT-2 token ids (vocab_size)`);
  }
  return v as number[];
}
