// Where the page's model bytes come from: the embedded default model fetched from
// the same origin, or the visitor's own files read through Blob.slice one tensor at
// a time (a gpt2-medium checkpoint is never held in JS memory whole, let alone twice).
// Both count what was read, for the progress bar.
import { BadModelError } from '../src/model/config.ts';
import type { TokenizerTexts } from '../src/model/load.ts';
import type { ByteSource } from '../src/model/safetensors.ts';

export interface Progress {
  bytes: number;
  total: number;
  /** Reads after the header: one per tensor. */
  tensors: number;
}

export interface ModelInput {
  name: string;
  weights: ByteSource;
  config: unknown;
  /** tokenizer.json and tokenizer_config.json among the picked files (a Llama-family model needs the first). */
  tokenizer?: TokenizerTexts;
}

/** A ByteSource over a Blob: every read is one slice. */
export function blobSource(blob: Blob, name: string, onRead: (p: Progress) => void): ByteSource {
  const p: Progress = { bytes: 0, total: blob.size, tensors: 0 };
  const slice = async (offset: number, length: number) => {
    const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    p.bytes += length;
    // The first two reads are the header's length and the header.
    if (offset > 8) p.tensors++;
    onRead(p);
    return bytes;
  };
  return {
    name,
    size: blob.size,
    read: slice,
    readInto: async (offset, target) => target.set(await slice(offset, target.length)),
  };
}

/** The default model beside the page (dist/web/model/), downloaded with progress, then read from memory. */
export async function defaultModel(onRead: (p: Progress) => void): Promise<ModelInput> {
  const [configRes, weightsRes] = await Promise.all([fetch('model/config.json'), fetch('model/model.safetensors')]);
  if (!configRes.ok || !weightsRes.ok || !weightsRes.body) throw new BadModelError(`the embedded model is missing beside the page (HTTP ${configRes.status}/${weightsRes.status}); build with npm run build`);
  const total = Number(weightsRes.headers.get('content-length') ?? 0);
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = weightsRes.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.length;
    onRead({ bytes, total: Math.max(total, bytes), tensors: 0 });
  }
  return { name: 'default', weights: blobSource(new Blob(chunks as BlobPart[]), 'default', onRead), config: await configRes.json() };
}

const SHARD = /-\d+-of-(\d+)\.safetensors$/;

/** The visitor's config.json + model.safetensors, from a file input, a folder input or a drop. */
export async function userModel(files: readonly File[], onRead: (p: Progress) => void): Promise<ModelInput> {
  const pickle = files.find((f) => /\.(bin|pt|pth|ckpt)$/i.test(f.name));
  const shard = files.find((f) => SHARD.test(f.name) || f.name.endsWith('.safetensors.index.json'));
  if (shard) {
    const count = SHARD.exec(shard.name)?.[1];
    throw new BadModelError(`${shard.name} belongs to a sharded checkpoint${count ? ` (${Number(count)} shards)` : ''}: the page reads one model.safetensors; merge the shards into one file first (or use the CLI on a smaller model)`);
  }
  const weights = files.find((f) => f.name.endsWith('.safetensors'));
  if (!weights) {
    throw new BadModelError(pickle
      ? `${pickle.name} is a PyTorch pickle (.${pickle.name.split('.').pop()}), which the page does not read: pick the directory's model.safetensors, or convert the checkpoint to safetensors first`
      : 'no .safetensors file among the files: pick config.json and model.safetensors');
  }
  const configFile = files.find((f) => f.name === 'config.json');
  let config: unknown;
  if (configFile) {
    try {
      config = JSON.parse(await configFile.text());
    } catch (e) {
      throw new BadModelError(`config.json is not valid JSON (${(e as Error).message})`);
    }
  }
  const text = (name: string) => files.find((f) => f.name === name)?.text();
  const tokenizer = { tokenizerJson: await text('tokenizer.json'), tokenizerConfig: await text('tokenizer_config.json') };
  const dir = (weights as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0];
  return { name: dir || weights.name, weights: blobSource(weights, weights.name, onRead), config, tokenizer };
}
