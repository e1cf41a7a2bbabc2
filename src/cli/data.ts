// CounterFact files, read at run time from ../shared/data (never copied into the repo).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CounterFactRecord } from '../train/corpus.ts';
import { UsageError } from './common.ts';

/** ../shared/data beside the repository (dist/cli.js -> ../../shared/data). */
export function defaultDataDir(): string {
  return fileURLToPath(new URL('../../shared/data', import.meta.url));
}

export type Split = 'train' | 'val' | 'edit';

export function readRecords(dataDir: string, split: Split): CounterFactRecord[] {
  const file = `${dataDir}/counterfact/counterfact-${split}.json`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${file}: pass --data DIR, the directory that holds counterfact/`);
  }
  let records: unknown;
  try {
    records = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON (${(e as Error).message}); the file is damaged: restore it, or pass --data DIR with an intact counterfact/`);
  }
  if (!Array.isArray(records) || !records.every((r) => typeof r?.prompt === 'string' && typeof r?.ground_truth === 'string')) {
    throw new UsageError(`${file} is not a list of CounterFact records (EasyEdit layout: prompt, ground_truth, target_new, ...)`);
  }
  return records as CounterFactRecord[];
}
