// An output directory (an edited model, a study report) is checked before the work starts: its parent
// exists and is writable, it is not a system path, and an existing directory is
// replaced only when empty or when the user said --force.
import { constants } from 'node:fs';
import { access, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BadInputError } from '../errors.ts';
import { replaceDirAtomic } from '../model/node-file.ts';

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
  try {
    await replaceDirAtomic(out, async (dir) => {
      for (const f of files) await writeFile(join(dir, f.name), f.text, { flag: 'wx' });
    }, replace);
  } catch (e) {
    throw new BadInputError(`cannot write ${out}: ${(e as Error).message}`);
  }
}
