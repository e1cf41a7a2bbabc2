// An output directory (an edited model, a study report, an evaluation, a training
// run, a statistics cache) is checked before the work starts: its parent exists and
// is writable, it is not a system path, and an existing directory is replaced only
// when empty or when the user said --force. Links are followed: a link to a
// directory names that directory, which is written into and replaced, the link kept.
import { constants } from 'node:fs';
import { access, readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BadInputError } from '../errors.ts';
import { replaceDirAtomic } from '../model/node-file.ts';

// Node 20's recursive mkdir spins forever under /proc, and nothing of ours belongs
// on a kernel or device file system.
const SYSTEM = /^\/(proc|sys|dev)(\/|$)/;

/** `path` with every link resolved, as far as it exists. */
export async function resolvedPath(path: string): Promise<string> {
  const full = resolve(path);
  return realpath(full).catch(async () => join(await realpath(dirname(full)).catch(() => dirname(full)), basename(full)));
}

/**
 * Throws BadInputError unless `path` is a writable directory or can be created as
 * one (its parent exists and is writable); returns it with its links resolved.
 */
export async function checkWritableDir(path: string, flag: string): Promise<string> {
  const full = await resolvedPath(path);
  if (SYSTEM.test(full) || SYSTEM.test(resolve(path))) throw new BadInputError(`${flag} ${path}: a system path cannot hold a model or results; choose another directory`);
  const info = await stat(full).catch(() => undefined);
  const writable = async (dir: string) => access(dir, constants.W_OK).then(() => true, () => false);
  if (info) {
    if (!info.isDirectory()) throw new BadInputError(`${flag} ${path}: exists and is not a directory; choose another path`);
    if (!(await writable(full))) throw new BadInputError(`${flag} ${path}: the directory is not writable; choose another path`);
    return full;
  }
  const parent = dirname(full);
  if (!(await stat(parent).then((s) => s.isDirectory(), () => false))) throw new BadInputError(`${flag} ${path}: the directory ${parent} does not exist; create it or choose another path`);
  if (!(await writable(parent))) throw new BadInputError(`${flag} ${path}: the directory ${parent} is not writable; choose another path`);
  return full;
}

export async function checkOutputDir(path: string, flag: string, force: boolean): Promise<void> {
  const full = await checkWritableDir(path, flag);
  const entries = await readdir(full).catch(() => []);
  if (entries.length > 0 && !force) throw new BadInputError(`${flag} ${path}: exists and is not empty; choose another path or pass --force to replace it`);
}

/**
 * Writes text files into a fresh sibling directory, then swaps it in for `out`, so
 * a failure leaves no half-written report (and any earlier one untouched).
 */
export async function writeDirAtomic(out: string, files: readonly { name: string; text: string }[], replace: boolean): Promise<void> {
  try {
    await replaceDirAtomic(out, async (dir) => {
      for (const f of files) await writeFile(join(dir, f.name), f.text, { flag: 'wx' });
    }, replace);
  } catch (e) {
    throw new BadInputError(`cannot write ${out}: ${(e as Error).message}; nothing was written`);
  }
}
