// An output directory (an edited model, a study report) is checked before the work starts: its parent
// exists and is writable, it is not a system path, and an existing directory is
// replaced only when empty or when the user said --force.
import { constants } from 'node:fs';
import { access, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BadInputError } from '../lens/prepare.ts';

export async function checkOutputDir(path: string, flag: string, force: boolean): Promise<void> {
  const full = resolve(path);
  if (/^\/(proc|sys|dev)(\/|$)/.test(full)) throw new BadInputError(`${flag} ${path}: a system path cannot hold a model; choose another directory`);
  const parent = dirname(full);
  if (!(await stat(parent).then((s) => s.isDirectory(), () => false))) throw new BadInputError(`${flag} ${path}: the directory ${parent} does not exist; create it or choose another path`);
  if (await access(parent, constants.W_OK).then(() => false, () => true)) throw new BadInputError(`${flag} ${path}: the directory ${parent} is not writable; choose another path`);
  const info = await stat(full).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new BadInputError(`${flag} ${path}: exists and is not a directory; choose another path`);
  if ((await readdir(full)).length > 0 && !force) throw new BadInputError(`${flag} ${path}: exists and is not empty; choose another path or pass --force to replace it`);
}

/**
 * Writes text files into a fresh sibling directory, then swaps it in for `out`, so
 * a failure leaves no half-written report (and any earlier one untouched).
 */
export async function writeDirAtomic(out: string, files: readonly { name: string; text: string }[], replace: boolean): Promise<void> {
  const full = resolve(out);
  const temp = join(dirname(full), `.${basename(full)}.partial-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const old = `${temp}.old`;
  try {
    await mkdir(temp);
    for (const f of files) await writeFile(join(temp, f.name), f.text, { flag: 'wx' });
    const existing = await readdir(full).then((e) => e.length, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return -1;
      throw e;
    });
    if (existing > 0 && !replace) throw new Error('exists and is not empty');
    // The old directory is moved aside, not deleted, until the new one is in place.
    if (existing >= 0) await rename(full, old);
    await rename(temp, full).catch(async (e) => {
      if (existing >= 0) await rename(old, full);
      throw e;
    });
  } catch (e) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw new BadInputError(`cannot write ${out}: ${(e as Error).message}`);
  }
  await rm(old, { recursive: true, force: true });
}
