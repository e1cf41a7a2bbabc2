// An evaluation's output directory: run.json (what was asked), records.jsonl (one
// line per finished record and method, appended whole), summary.json and table.md
// (rewritten atomically at the end). A run killed mid-record leaves at most a torn
// last line, which --resume drops.
import { appendFileSync, existsSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { Defaulted } from '../eval/methods.ts';
import { lineKey, type EvalLine } from '../eval/run.ts';
import { summarize } from '../eval/summary.ts';
import { evalTable } from '../report/eval-table.ts';
import { UsageError } from './common.ts';
import { writeTextAtomic } from './output-file.ts';

/** What a run was asked to do; shards of one evaluation differ only in `shard`. */
export interface RunInfo {
  version: 1;
  model: string;
  data: string;
  records: string;
  methods: string[];
  seed: number;
  generation: boolean;
  perplexity: boolean;
  shard: { index: number; count: number };
  /** (record, method) lines this shard will write. */
  expectedLines: number;
  /** Per method label, the parameters its spec left out and the model's documented defaults filled in. */
  defaults?: Record<string, Defaulted>;
}

const RUN = 'run.json';
const RECORDS = 'records.jsonl';

export function runFile(dir: string): string {
  return join(dir, RUN);
}

export function readRun(dir: string): RunInfo | undefined {
  const file = runFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunInfo;
  } catch {
    throw new UsageError(`${file} is not valid JSON; it is not a backward-lens evaluation directory`);
  }
}

/** The settings that must match for a resume (everything) or a merge (all but the shard). */
export function sameEvaluation(a: RunInfo, b: RunInfo): string | undefined {
  const keys = ['model', 'data', 'records', 'methods', 'seed', 'generation', 'perplexity'] as const;
  const diff = keys.find((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return diff;
}

/**
 * Reads finished lines; with `repair`, cuts a torn last line off the file. Every
 * line must be one of `allowed` (lineKey of record and method: the run's selection)
 * and appear once; otherwise one error naming the file and the line.
 */
export function readLines(dir: string, repair: boolean, allowed: ReadonlySet<string>): EvalLine[] {
  const file = join(dir, RECORDS);
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines: EvalLine[] = [];
  const seen = new Map<string, number>();
  let offset = 0;
  for (const [n, raw] of text.split('\n').entries()) {
    const end = offset + Buffer.byteLength(raw) + 1;
    if (raw.trim() !== '') {
      let line: EvalLine;
      try {
        line = JSON.parse(raw) as EvalLine;
      } catch {
        const isLast = end >= Buffer.byteLength(text);
        if (!isLast) throw new UsageError(`${file}: line ${n + 1} is not JSON; the file was changed by hand`);
        if (repair) truncateSync(file, offset);
        break;
      }
      const key = typeof line === 'object' && line !== null ? lineKey(line.index, line.method) : '';
      if (!allowed.has(key)) throw new UsageError(`${file}: line ${n + 1} is not a record and method of this run's selection; the file was changed by hand or belongs to another run`);
      const first = seen.get(key);
      if (first !== undefined) throw new UsageError(`${file}: line ${n + 1} repeats line ${first} (record ${line.index}, ${line.method}); two runs wrote into one directory or the file was changed by hand`);
      seen.set(key, n + 1);
      lines.push(line);
    }
    offset = end;
  }
  return lines;
}

/** lineKey of every (record, method) the run evaluates. */
export function selectionKeys(indexes: readonly number[], methods: readonly string[]): Set<string> {
  return new Set(indexes.flatMap((i) => methods.map((m) => lineKey(i, m))));
}

export function doneKeys(lines: readonly EvalLine[]): Set<string> {
  return new Set(lines.map((l) => lineKey(l.index, l.method)));
}

export function hasRecords(dir: string): boolean {
  return existsSync(join(dir, RECORDS)) || existsSync(runFile(dir));
}

export const runText = (info: RunInfo): string => `${JSON.stringify(info, null, 2)}\n`;

export async function startDir(dir: string, info: RunInfo): Promise<void> {
  await writeTextAtomic(runFile(dir), runText(info));
}

export function appendLine(dir: string, line: EvalLine): void {
  // One write per line, so a kill leaves whole lines and at most one torn one.
  appendFileSync(join(dir, RECORDS), `${JSON.stringify(line)}\n`);
}

/** Sorted by record index, then by method order: one run and merged shards read the same. */
export function sortLines(lines: readonly EvalLine[], methods: readonly string[]): EvalLine[] {
  return [...lines].sort((a, b) => a.index - b.index || methods.indexOf(a.method) - methods.indexOf(b.method));
}

/** summary.json and table.md, both written whole. */
export async function writeSummary(dir: string, info: RunInfo, lines: readonly EvalLine[], command: string): Promise<void> {
  for (const f of summaryFiles(info, lines, command)) await writeTextAtomic(join(dir, f.name), f.text);
}

/** What a finished run's directory holds besides run.json: every line, sorted, then summary.json and table.md. */
export function finishedFiles(info: RunInfo, lines: readonly EvalLine[], command: string): { name: string; text: string }[] {
  return [
    { name: RUN, text: runText(info) },
    { name: RECORDS, text: lines.map((l) => `${JSON.stringify(l)}\n`).join('') },
    ...summaryFiles(info, lines, command),
  ];
}

function summaryFiles(info: RunInfo, lines: readonly EvalLine[], command: string): { name: string; text: string }[] {
  const methods = summarize(lines, info.methods);
  const { shard: _shard, expectedLines: _expected, ...settings } = info;
  const summary = { ...settings, methods };
  const header = [
    `# CounterFact evaluation: ${info.model}`,
    '',
    `Data ${info.data}, records ${info.records}, seed ${info.seed}${info.generation ? '' : ', no generation'}${info.perplexity ? '' : ', no perplexity'}.`,
    '',
    '```',
    command,
    '```',
  ];
  return [
    { name: 'summary.json', text: `${JSON.stringify(summary, null, 2)}\n` },
    { name: 'table.md', text: evalTable(methods, header) },
  ];
}
