// A sharded checkpoint's model.safetensors.index.json: which files hold the
// weights. Browser-safe, so the CLI (files in a directory) and the page (picked
// files) read an index the same way and refuse the same bad ones.
import { BadModelError } from './config.ts';

export const SHARD_INDEX = 'model.safetensors.index.json';

/** A shard's file name as Hugging Face writes it: model-00001-of-00003.safetensors (group 1: the count). */
export const SHARD_NAME = /-\d+-of-(\d+)\.safetensors$/;

/** The shard files an index's weight_map names, each once, in the order they first appear. `where` names the index in messages. */
export function shardNames(text: string, where: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BadModelError(`${where}: not valid JSON (${(e as Error).message}); fix or re-download ${SHARD_INDEX}`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new BadModelError(`${where}: no "weight_map" object; fix or re-download ${SHARD_INDEX}`);
  const names = [...new Set(Object.values(map as Record<string, unknown>))];
  // A name with a folder in it could point outside the checkpoint's directory.
  const bad = names.find((n) => typeof n !== 'string' || /[/\\]/.test(n) || !n.endsWith('.safetensors'));
  if (bad !== undefined) throw new BadModelError(`${where}: weight_map names ${JSON.stringify(bad)}, not a .safetensors file in the same directory; fix or re-download ${SHARD_INDEX}`);
  return names as string[];
}
