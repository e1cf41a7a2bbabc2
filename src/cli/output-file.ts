// Output files of the CLI's reports: checked before the work starts, so a typo in a
// path fails in a second rather than after the analysis, and written atomically
// (temp file + rename), so a failed run leaves any earlier file untouched.
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { BadInputError } from '../lens/prepare.ts';

/** Throws BadInputError unless `path` could be written: its directory exists and is writable, and it is no directory itself. */
export async function checkWritable(path: string, flag: string): Promise<void> {
  const dir = dirname(resolve(path));
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new BadInputError(`${flag} ${path}: the directory ${dir} does not exist; create it or choose another path`);
  if (await access(dir, constants.W_OK).then(() => false, () => true)) throw new BadInputError(`${flag} ${path}: the directory ${dir} is not writable; choose another path`);
  if (await stat(path).then((s) => s.isDirectory(), () => false)) throw new BadInputError(`${flag} ${path}: is a directory; pass a file name`);
}

export async function writeTextAtomic(path: string, text: string): Promise<void> {
  // Same directory, so the rename cannot cross file systems.
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temp, text, { flag: 'wx', flush: true });
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new BadInputError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
