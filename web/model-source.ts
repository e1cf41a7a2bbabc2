// Where the page's model bytes come from: files (the visitor's, picked or dropped,
// or an embedded model's, downloaded) read through Blob.slice one tensor at a time,
// so a multi-GB checkpoint is never held in JS memory whole, let alone twice.
// Which files make a model follows the CLI's directory rules (load-node.ts):
// config.json, model.safetensors or the shards model.safetensors.index.json lists,
// tokenizer.json and tokenizer_config.json. Reads are counted for the progress bar.
import { BadModelError } from '../src/model/config.ts';
import type { TokenizerTexts } from '../src/model/load.ts';
import type { ByteSource } from '../src/model/safetensors.ts';
import { SHARD_INDEX, SHARD_NAME, shardNames } from '../src/model/shard-index.ts';

export interface Progress {
  bytes: number;
  total: number;
  /** Reads after the headers: one per tensor, or per chunk of a large one. */
  tensors: number;
}

export interface ModelInput {
  name: string;
  /** One of the models the page ships (models/index.json), not the visitor's files. */
  embedded: boolean;
  /** model.safetensors, or the shards in the index's order. */
  weights: ByteSource[];
  config: unknown;
  /** tokenizer.json and tokenizer_config.json among the files (a Llama-family model needs the first). */
  tokenizer: TokenizerTexts;
}

/** ByteSources over Blobs: every read is one slice; one Progress counts the reads of them all. */
function blobSources(files: readonly File[], onRead: (p: Progress) => void): ByteSource[] {
  const p: Progress = { bytes: 0, total: files.reduce((n, f) => n + f.size, 0), tensors: 0 };
  return files.map((blob) => {
    const slice = async (offset: number, length: number) => {
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      p.bytes += length;
      // The first two reads of each file are its header's length and its header.
      if (offset > 8) p.tensors++;
      onRead(p);
      return bytes;
    };
    return { name: blob.name, size: blob.size, read: slice, readInto: async (offset, target) => target.set(await slice(offset, target.length)) };
  });
}

/** The weight files among `byName`, as the CLI picks them in a directory: model.safetensors first, else the shards of an index. */
async function weightFiles(files: readonly File[], byName: ReadonlyMap<string, File>): Promise<File[]> {
  const single = byName.get('model.safetensors');
  if (single) return [single];
  const index = byName.get(SHARD_INDEX);
  if (index) {
    const names = shardNames(await index.text(), SHARD_INDEX);
    const missing = names.find((n) => !byName.has(n));
    if (missing !== undefined) throw new BadModelError(`${missing} is listed in ${SHARD_INDEX} but not among the picked files: pick every shard with it (or the model's folder)`);
    return names.map((n) => byName.get(n)!);
  }
  const shard = files.find((f) => SHARD_NAME.test(f.name));
  if (shard) throw new BadModelError(`${shard.name} is one of ${Number(SHARD_NAME.exec(shard.name)![1])} shards: pick ${SHARD_INDEX} with them (or the model's folder)`);
  const other = files.find((f) => f.name.endsWith('.safetensors'));
  if (other) return [other];
  const pickle = files.find((f) => /\.(bin|pt|pth|ckpt)$/i.test(f.name));
  throw new BadModelError(pickle
    ? `${pickle.name} is a PyTorch pickle (.${pickle.name.split('.').pop()}), which the page does not read: pick the directory's model.safetensors, or convert the checkpoint to safetensors first`
    : `no .safetensors file among the files: pick the model's folder, or config.json with model.safetensors (or ${SHARD_INDEX} and its shards)`);
}

async function parsed(file: File): Promise<unknown> {
  try {
    return JSON.parse(await file.text());
  } catch (e) {
    throw new BadModelError(`${file.name} is not valid JSON (${(e as Error).message})`);
  }
}

/** A model from its files; `name` defaults to the weights' file name. Nothing but the small JSON files is read here. */
export async function modelFromFiles(files: readonly File[], onRead: (p: Progress) => void, name?: string, embedded = false): Promise<ModelInput> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const weights = await weightFiles(files, byName);
  const configFile = byName.get('config.json');
  // A single file may carry its config in its metadata; shards cannot.
  if (!configFile && weights.length > 1) throw new BadModelError(`no config.json among the picked files: a sharded checkpoint needs it; pick it with the shards (or the model's folder)`);
  const text = (n: string) => byName.get(n)?.text();
  return {
    name: name || (weights.length > 1 ? SHARD_INDEX : weights[0]!.name),
    embedded,
    weights: blobSources(weights, onRead),
    config: configFile && (await parsed(configFile)),
    tokenizer: { tokenizerJson: await text('tokenizer.json'), tokenizerConfig: await text('tokenizer_config.json') },
  };
}

const relativePath = (f: File) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;

/**
 * The visitor's files, from the file input, the folder input or a drop. A folder's
 * own files count, not its subfolders' (Llama 3's original/ holds Meta's format);
 * the model is named after the folder.
 */
export async function userModel(files: readonly File[], onRead: (p: Progress) => void): Promise<ModelInput> {
  const depth = (f: File) => relativePath(f).split('/').length;
  const top = Math.min(...files.map(depth));
  const own = files.filter((f) => depth(f) === top);
  const dir = top > 1 ? relativePath(own[0]!).split('/').at(-2) : undefined;
  return modelFromFiles(own, onRead, dir);
}

/** A folder dropped on the page, through the entries API a drop exposes: its own files, named after it. */
export async function droppedFolder(folder: FileSystemDirectoryEntry, onRead: (p: Progress) => void): Promise<ModelInput> {
  const reader = folder.createReader();
  const entries: FileSystemEntry[] = [];
  // readEntries hands a large folder over in batches; an empty one is the end.
  for (let batch = await nextEntries(reader); batch.length; batch = await nextEntries(reader)) entries.push(...batch);
  const files = await Promise.all(entries.filter((e) => e.isFile).map((e) => new Promise<File>((ok, fail) => (e as FileSystemFileEntry).file(ok, fail))));
  return modelFromFiles(files, onRead, folder.name);
}

const nextEntries = (reader: FileSystemDirectoryReader) => new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
