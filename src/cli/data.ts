// CounterFact and WikiText files, read at run time from ../shared/data (never copied
// into the repo). Parsing lives in src/data/; this file only reads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BadDataError, parseCounterFact, type CounterFactRecord } from '../data/counterfact.ts';
import { wikitextRows } from '../data/wikitext.ts';
import { UsageError } from './common.ts';

/** ../shared/data beside the repository (dist/cli.js -> ../../shared/data). */
export function defaultDataDir(): string {
  return fileURLToPath(new URL('../../shared/data', import.meta.url));
}

export type Split = 'train' | 'val' | 'edit';

function readText(file: string, fix: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${file}: ${fix}`);
  }
}

export function readRecordsFile(file: string, fix = 'pass --data FILE, a CounterFact JSON file'): CounterFactRecord[] {
  const text = readText(file, fix);
  try {
    return parseCounterFact(text, file);
  } catch (e) {
    if (e instanceof BadDataError) throw new UsageError(e.message);
    throw e;
  }
}

export function readRecords(dataDir: string, split: Split): CounterFactRecord[] {
  return readRecordsFile(`${dataDir}/counterfact/counterfact-${split}.json`, 'pass --data DIR, the directory that holds counterfact/');
}

/** The WikiText-2 raw test split; `flag` is the option that names the file. */
export function readWikitext(file: string, flag = '--wikitext'): string {
  return readText(file, `pass ${flag} FILE, wikitext-2-raw/wiki.test.raw`);
}

/** The perplexity's WikiText rows, refusing (before any work) a file that has none. */
export function readWikitextRows(file: string, count?: number): string[] {
  const rows = wikitextRows(readWikitext(file), count);
  if (rows.length === 0) throw new UsageError(`--wikitext ${file}: no row of at least 30 characters to measure perplexity on; pass wiki.test.raw or --no-perplexity`);
  return rows;
}

export const defaultWikitextFile = (): string => `${defaultDataDir()}/wikitext-2-raw/wiki.test.raw`;
export const defaultCounterFactFile = (): string => `${defaultDataDir()}/counterfact/counterfact-train.json`;
