// A safetensors checkpoint -> Gpt2 on the device, tensor by tensor (a 6 GB gpt2-xl is
// never held in memory twice). Browser-safe: file access comes in as a ByteSource.
// F16 and BF16 matrices stay 16-bit on the device (half the memory; the kernels that
// read weights decode them); their small vectors (biases, layer norms) are widened.
import type { Kernels } from '../gpu/kernels.ts';
import { upload, uploadFrom } from '../gpu/buffers.ts';
import type { DType, Tensor } from '../tensor.ts';
import { Tokenizer } from '../tokenizer.ts';
import { BadModelError, parameterShapes, parseConfig, type Gpt2Config } from './config.ts';
import { checkFiniteHalves, checkFiniteTensor } from './finite.ts';
import { Gpt2 } from './gpt2.ts';
import { openSafetensors, type ByteSource, type Dtype, type SafetensorsFile } from './safetensors.ts';

export interface LoadedModel {
  model: Gpt2;
  tokenizer: Tokenizer;
  /** GPT-2 ids of a reduced vocabulary declared in the metadata, if any. */
  vocab?: number[];
  /** The safetensors metadata (e.g. `training`, the command that made the default model). */
  metadata: Readonly<Record<string, string>>;
}

/** Float dtypes the loader accepts; checked before any upload so a bad one fails at once. */
const WEIGHT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

/** Buffers some checkpoints carry (causal mask, -1e4 constant): not parameters. */
export const IGNORED = /^h\.\d+\.attn\.(masked_)?bias$/;

/** A stored tensor name without the `transformer.` prefix some checkpoints carry. */
export function canonical(name: string): string {
  return name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadModelError(`${what} is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Loads GPT-2 weights. `configJson` is the parsed config.json when there is one;
 * otherwise the file's metadata must carry it under "config".
 */
export async function loadGpt2(k: Kernels, src: ByteSource, configJson?: unknown): Promise<LoadedModel> {
  const file = await openSafetensors(src);
  const where = src.name;
  const metaConfig = file.metadata.config;
  if (configJson === undefined && metaConfig === undefined) {
    throw new BadModelError(`${where}: no config.json beside the weights and no "config" in the safetensors metadata; put the model's config.json in the same directory`);
  }
  const config = parseConfig(configJson ?? parseJson(metaConfig!, `${where}: metadata "config"`), configJson !== undefined ? 'config.json' : `${where} metadata`);
  const vocab = file.metadata.vocab === undefined ? undefined : parseVocab(file.metadata.vocab, config, where);

  const byName = new Map<string, string>();
  for (const stored of file.tensors.keys()) {
    const name = canonical(stored);
    if (IGNORED.test(name)) continue;
    if (byName.has(name)) throw new BadModelError(`${where}: tensor ${name} appears twice (with and without the "transformer." prefix)`);
    byName.set(name, stored);
  }
  const shapes = parameterShapes(config);
  for (const [name, stored] of byName) {
    if (!shapes.has(name) && name !== 'lm_head.weight') {
      throw new BadModelError(`${where}: unexpected tensor ${name} for a GPT-2 with ${config.nLayer} layers; the config does not match the weights`);
    }
    const dtype = file.tensors.get(stored)!.dtype;
    if (!WEIGHT_DTYPES.includes(dtype)) {
      throw new BadModelError(`${where}: tensor ${name} has dtype ${dtype}, which is not supported for weights (${WEIGHT_DTYPES.join(', ')}); convert the checkpoint to one of those`);
    }
  }

  const params = new Map<string, Tensor>();
  try {
    // Dawn frees an upload's staging copy only when a submit completes: sync every
    // 64 MB so a large checkpoint never holds twice its size.
    let pending = 0;
    for (const [name, shape] of shapes) {
      const t = await loadTensor(k, file, byName, name, shape, where);
      params.set(name, t);
      pending += t.bytes;
      if (pending > 64 << 20) {
        await k.sync();
        pending = 0;
      }
    }
    const head = byName.has('lm_head.weight') && (await separateHead(file, byName, config, where));
    if (head) params.set('lm_head.weight', await loadTensor(k, file, byName, 'lm_head.weight', [config.vocabSize, config.nEmbd], where));
    const model = new Gpt2(k, config, params, head ? 'lm_head.weight' : 'wte.weight');
    return { model, tokenizer: Tokenizer.gpt2(vocab), metadata: file.metadata, ...(vocab ? { vocab } : {}) };
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
async function loadTensor(k: Kernels, file: SafetensorsFile, byName: Map<string, string>, name: string, shape: number[], where: string): Promise<Tensor> {
  const stored = checkShape(file, byName, name, shape, where);
  const dtype = file.tensors.get(stored)!.dtype;
  const type = deviceType(dtype, shape);
  if (dtype === 'F32' || type !== 'f32') {
    return uploadFrom(k, shape, async (bytes, from) => {
      await file.readInto(stored, bytes, from);
      if (dtype === 'F32') checkFiniteTensor(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), name, where);
      else checkFiniteHalves(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2), dtype as 'F16' | 'BF16', name, where);
    }, name, type);
  }
  const data = await file.readF32(stored);
  checkFiniteTensor(data, name, where);
  return upload(k, shape, data, 'f32', name);
}

function checkShape(file: SafetensorsFile, byName: Map<string, string>, name: string, shape: number[], where: string): string {
  const stored = byName.get(name);
  if (!stored) throw new BadModelError(`${where}: missing tensor ${name} [${shape}]; the checkpoint is incomplete or not a GPT-2`);
  const info = file.tensors.get(stored)!;
  if (info.shape.join(',') !== shape.join(',')) {
    throw new BadModelError(`${where}: tensor ${name} has shape [${info.shape}] but the config implies [${shape}]; the config does not match the weights`);
  }
  return stored;
}

/** lm_head.weight equal to wte, byte for byte, is the usual tied head; a different one becomes D. */
async function separateHead(file: SafetensorsFile, byName: Map<string, string>, config: Gpt2Config, where: string): Promise<boolean> {
  const shape = [config.vocabSize, config.nEmbd];
  const head = checkShape(file, byName, 'lm_head.weight', shape, where);
  const wte = checkShape(file, byName, 'wte.weight', shape, where);
  const [h, w] = [file.tensors.get(head)!, file.tensors.get(wte)!];
  if (h.dtype !== w.dtype) return true;
  // In chunks, so two vocabulary-sized tensors are never on the host at once.
  const chunk = 16 << 20;
  const a = new Uint8Array(chunk);
  const b = new Uint8Array(chunk);
  for (let from = 0; from < h.end - h.begin; from += chunk) {
    const n = Math.min(chunk, h.end - h.begin - from);
    await file.readInto(head, a.subarray(0, n), from);
    await file.readInto(wte, b.subarray(0, n), from);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return true;
  }
  return false;
}

function parseVocab(text: string, config: Gpt2Config, where: string): number[] {
  const v = parseJson(text, `${where}: metadata "vocab"`);
  if (!Array.isArray(v) || v.length !== config.vocabSize || !v.every((id) => Number.isInteger(id))) {
    throw new BadModelError(`${where}: metadata "vocab" must be a list of ${config.vocabSize} GPT-2 token ids (vocab_size)`);
  }
  return v as number[];
}
