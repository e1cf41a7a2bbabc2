// A training run's directory: checked before any work, its log repaired on resume,
// and what a failed run wrote taken back so nothing half-made is left behind.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from './common.ts';
import { checkWritableDir } from './output-dir.ts';

export const CHECKPOINT = 'checkpoint.safetensors';
export const LOG = 'train-log.jsonl';
const RUN_FILES = [CHECKPOINT, 'model.safetensors', LOG, 'train-summary.json', 'config.json'];

/**
 * Refuses, before any work, an --out that is no directory, a --resume with nothing
 * to resume, and a directory holding a run that neither --resume nor --force names.
 */
export async function checkTrainOut(out: string, resume: boolean, force: boolean): Promise<void> {
  const info = statSync(out, { throwIfNoEntry: false });
  if (info && !info.isDirectory()) throw new UsageError(`--out ${out} is a file, not a directory; pass a directory (it is created if missing)`);
  await checkWritableDir(out, '--out');
  if (resume && !existsSync(join(out, CHECKPOINT))) {
    throw new UsageError(`--resume: there is no ${join(out, CHECKPOINT)} to continue from; run without --resume to start from scratch`);
  }
  const held = RUN_FILES.find((f) => existsSync(join(out, f)));
  if (!resume && !force && held) throw new UsageError(`--out ${out} holds a training run (${held}); pass --resume to continue it, --force to start over in it, or choose another directory`);
}

/** Creates `out` if missing; the returned function undoes what this run wrote (see abandon). */
export function startTrainDir(out: string, resume: boolean): { abandon(checkpointSteps: number | undefined): Promise<void> } {
  const created = !existsSync(out);
  if (created) mkdirSync(out);
  return {
    // A fresh run leaves nothing; a resumed one keeps its last good checkpoint, with the log cut to it.
    async abandon(checkpointSteps) {
      if (resume && checkpointSteps !== undefined) return truncateLog(join(out, LOG), checkpointSteps);
      await Promise.all([CHECKPOINT, LOG].map((f) => rm(join(out, f), { force: true })));
      if (created) await rmdir(out).catch(() => undefined);
    },
  };
}

/**
 * Keeps the log lines of the steps the checkpoint holds, so steps redone after a
 * crash are not logged twice. A torn last line (a kill mid-write) is dropped; any
 * other line that is not JSON is named.
 */
export async function truncateLog(log: string, steps: number): Promise<void> {
  const text = await readFile(log, 'utf8').catch(() => '');
  const lines = text.split('\n');
  const kept: string[] = [];
  for (const [n, line] of lines.entries()) {
    if (line === '') continue;
    let step: unknown;
    try {
      step = (JSON.parse(line) as { step?: unknown }).step;
    } catch {
      if (lines.slice(n + 1).every((l) => l === '')) break;
      throw new UsageError(`${log}: line ${n + 1} is not JSON; restore the file or start over with --force`);
    }
    if (typeof step !== 'number') throw new UsageError(`${log}: line ${n + 1} has no step number; restore the file or start over with --force`);
    if (step <= steps) kept.push(`${line}\n`);
  }
  await writeFile(log, kept.join(''));
}
