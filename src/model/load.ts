// A safetensors checkpoint (one file or shards) -> Model on the device, tensor by tensor
// (a 6 GB gpt2-xl is never held in memory twice). Browser-safe: file access comes in as a ByteSource.
// F16 and BF16 matrices stay 16-bit on the device (half the memory; the kernels that
// read weights decode them); their small vectors (biases, layer norms) are widened.
import type { Kernels } from '../gpu/kernels.ts';
import { StagedUploads, upload } from '../gpu/buffers.ts';
import type { DType, Tensor } from '../tensor.ts';
import { tokenizerFor } from '../tokenizer/tokenizer-for.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { BadModelError, checkSupported, parameterShapes, UNEMBED, type ModelConfig } from './config.ts';
import { familyOf, readConfig, type Family } from './families/index.ts';
import { checkFiniteBits, checkFiniteTensor } from './finite.ts';
import { Model } from './model.ts';
import { openSafetensors, type ByteSource, type Dtype, type SafetensorsFile, type TensorInfo } from './safetensors.ts';

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

/** The tokenizer files found beside the weights, as text: a Llama-family checkpoint needs tokenizer.json. */
export interface TokenizerTexts {
  readonly tokenizerJson?: string;
  readonly tokenizerConfig?: string;
}

/** A stored tensor and the file (one of the shards) that holds it. */
interface Stored {
  name: string;
  file: SafetensorsFile;
  info: TensorInfo;
}

/**
 * Loads a checkpoint of any supported family, from one safetensors file or the shards
 * of one. `configJson` is the parsed config.json when there is one; otherwise the
 * (single) file's metadata must carry it under "config". `texts` carries the
 * tokenizer files of families whose tokenizer is not built in.
 */
export async function loadModelFrom(k: Kernels, sources: ByteSource | readonly ByteSource[], configJson?: unknown, texts: TokenizerTexts = {}): Promise<LoadedModel> {
  const srcs = Array.isArray(sources) ? (sources as readonly ByteSource[]) : [sources as ByteSource];
  if (srcs.length === 0) throw new BadModelError('no safetensors files to load');
  const files = await Promise.all(srcs.map((s) => openSafetensors(s)));
  const file = files[0]!;
  const where = srcs.length === 1 ? srcs[0]!.name : `${srcs[0]!.name} (+${srcs.length - 1} shards)`;
  const metaConfig = file.metadata.config;
  if (configJson === undefined && (metaConfig === undefined || files.length > 1)) {
    throw new BadModelError(`${where}: no config.json beside the weights and no "config" in the safetensors metadata; put the model's config.json in the same directory`);
  }
  const config = readConfig(configJson ?? parseJson(metaConfig!, `${where}: metadata "config"`), configJson !== undefined ? 'config.json' : `${where} metadata`);
  // Before any upload: a switch value without kernels fails here, not after the weights are on the device.
  checkSupported(config);
  const vocab = file.metadata.vocab === undefined ? undefined : parseVocab(file.metadata.vocab, config, where);

  const family = familyOf(config);
  // Before any upload too: a missing or broken tokenizer.json fails here.
  const tokenizer = tokenizerFor(family.tokenizer, { ...texts, vocabSize: config.vocabSize, vocab });
  const shapes = parameterShapes(config);
  // Messages name tensors as the checkpoint does (less any stored prefix).
  const shown = (name: string) => family.checkpointName(name);
  const groups = new Map<string, Stored[]>();
  const seen = new Map<string, string>();
  for (const f of files) {
    for (const [stored, info] of f.tensors) {
      if (seen.has(stored)) throw new BadModelError(`${where}: tensor ${stored} is in both ${seen.get(stored)} and ${f.name}; the shards overlap`);
      seen.set(stored, f.name);
      const name = family.canonical(stored);
      if (name === null) continue;
      if (name === undefined || (!shapes.has(name) && name !== UNEMBED)) {
        throw new BadModelError(`${where}: unexpected tensor ${name === undefined ? stored : shown(name)} for a ${family.displayName} with ${config.nLayer} layers; the config does not match the weights`);
      }
      const group = groups.get(name) ?? [];
      if (group.length === family.parts(name).length) throw new BadModelError(`${where}: tensor ${shown(name)} appears twice (under two stored names)`);
      if (!WEIGHT_DTYPES.includes(info.dtype)) {
        const named = family.parts(name).includes(stored) ? stored : shown(name);
        throw new BadModelError(`${where}: tensor ${named} has dtype ${info.dtype}, which is not supported for weights (${WEIGHT_DTYPES.join(', ')}); convert the checkpoint to one of those`);
      }
      groups.set(name, [...group, { name: stored, file: f, info }]);
    }
  }

  const headShape = [config.vocabSize, config.nEmbd];
  if (!config.tiedHead && !groups.has(UNEMBED)) throw new BadModelError(`${where}: missing tensor ${shown(UNEMBED)} [${headShape}]; the config says the head is not tied to the embedding (tie_word_embeddings false)`);

  const params = new Map<string, Tensor>();
  const uploads = new StagedUploads(k, uploadChunk.bytes);
  try {
    for (const [name, shape] of shapes) params.set(name, await loadTensor(k, uploads, partsOf(family, groups, name, shape, where), shape, where, shown(name)));
    const head = groups.has(UNEMBED) && (config.tiedHead ? await separateHead(partsOf(family, groups, UNEMBED, headShape, where)[0]!, partsOf(family, groups, 'embed.weight', headShape, where)[0]!) : true);
    if (head) params.set(UNEMBED, await loadTensor(k, uploads, partsOf(family, groups, UNEMBED, headShape, where), headShape, where, shown(UNEMBED)));
    const model = new Model(k, config, params);
    return { model, tokenizer, metadata: file.metadata, ...(vocab ? { vocab } : {}) };
  } catch (e) {
    for (const t of params.values()) t.dispose();
    throw e;
  } finally {
    uploads.dispose();
  }
}

/**
 * The stored tensors of canonical parameter `name` in concatenation order, checked
 * against its shape: one tensor of that shape, or parts whose first dimensions add up
 * to its first one (Llama's q/k/v into attn_in), all of one dtype.
 */
function partsOf(family: Family, groups: Map<string, Stored[]>, name: string, shape: readonly number[], where: string): Stored[] {
  const expected = family.parts(name);
  const group = groups.get(name) ?? [];
  const missing = expected.find((p) => !group.some((s) => s.name === p || expected.length === 1));
  if (missing !== undefined) {
    throw new BadModelError(`${where}: missing tensor ${missing}${expected.length === 1 ? ` [${shape}]` : ''}; the checkpoint is incomplete or of another model family`);
  }
  const ordered = expected.length === 1 ? group : expected.map((p) => group.find((s) => s.name === p)!);
  const rows = ordered.reduce((n, s) => n + (s.info.shape[0] ?? 0), 0);
  const rest = (s: Stored) => s.info.shape.slice(1).join(',');
  if (rows !== shape[0] || ordered.some((s) => rest(s) !== shape.slice(1).join(',') || s.info.shape.length !== shape.length)) {
    const got = ordered.map((s) => `[${s.info.shape}]`).join(' + ');
    throw new BadModelError(`${where}: tensor ${family.checkpointName(name)} has shape ${got} but the config implies [${shape}]; the config does not match the weights`);
  }
  if (ordered.some((s) => s.info.dtype !== ordered[0]!.info.dtype)) {
    throw new BadModelError(`${where}: the parts of ${family.checkpointName(name)} have different dtypes (${ordered.map((s) => s.info.dtype).join(', ')}); convert the checkpoint to one dtype`);
  }
  return ordered;
}

/** The parts' bytes as one tensor's: `from` counts from the start of the first part. */
async function readParts(parts: readonly Stored[], bytes: Uint8Array, from: number): Promise<void> {
  let start = 0;
  for (const p of parts) {
    const end = start + p.info.end - p.info.begin;
    const a = Math.max(start, from);
    const b = Math.min(end, from + bytes.length);
    if (a < b) await p.file.readInto(p.name, bytes.subarray(a - from, b - from), a - start);
    start = end;
  }
}

/** Device dtype of a stored float tensor: 16-bit matrices stay packed. */
function deviceType(dtype: Dtype, shape: readonly number[]): DType {
  if (shape.length !== 2) return 'f32';
  return dtype === 'F16' ? 'f16' : dtype === 'BF16' ? 'bf16' : 'f32';
}

/**
 * Bytes per staging buffer while loading (three of them, so a read, a check and a
 * copy overlap); tests lower it so small tensors span several. Small because what
 * Dawn frees of them stays resident: three of 16 MB left 40 MiB more resident after
 * loading gpt2-medium than two of 4 MiB, and loaded no faster; three of 2 MiB keep
 * the two of 4 MiB's peak.
 */
export const uploadChunk = { bytes: 2 << 20 };

/** F32 tensors and 16-bit matrices go from the file straight into GPU memory; the rest are converted first. */
async function loadTensor(k: Kernels, uploads: StagedUploads, parts: readonly Stored[], shape: number[], where: string, shown: string): Promise<Tensor> {
  const dtype = parts[0]!.info.dtype;
  const type = deviceType(dtype, shape);
  if (dtype === 'F32' || type !== 'f32') {
    return uploads.tensor(shape, {
      read: (bytes, from) => readParts(parts, bytes, from),
      check: (bytes, from) => checkFiniteBits(bytes, dtype as 'F32' | 'F16' | 'BF16', shown, where, from / (dtype === 'F32' ? 4 : 2)),
    }, shown, type);
  }
  const values = await Promise.all(parts.map((p) => p.file.readF32(p.name)));
  const data = new Float32Array(values.reduce((n, v) => n + v.length, 0));
  values.reduce((at, v) => (data.set(v, at), at + v.length), 0);
  checkFiniteTensor(data, shown, where);
  return upload(k, shape, data, 'f32', shown);
}

/** A stored head equal to the embedding, byte for byte, is the usual tied head; a different one becomes D. */
async function separateHead(h: Stored, w: Stored): Promise<boolean> {
  if (h.info.dtype !== w.info.dtype) return true;
  // In chunks, so two vocabulary-sized tensors are never on the host at once.
  const chunk = 16 << 20;
  const a = new Uint8Array(chunk);
  const b = new Uint8Array(chunk);
  const size = h.info.end - h.info.begin;
  for (let from = 0; from < size; from += chunk) {
    const n = Math.min(chunk, size - from);
    await h.file.readInto(h.name, a.subarray(0, n), from);
    await w.file.readInto(w.name, b.subarray(0, n), from);
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
