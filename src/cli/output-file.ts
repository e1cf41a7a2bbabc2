// Output files of the CLI, handled as one set: every path is checked before the work
// starts, so a typo fails in a second rather than after the analysis; every file is
// written to a temporary beside its target first, and only when all of them are
// written are they renamed into place. A failed run leaves every earlier file as it was.
// An output that is a symbolic link is written through: the file it names is
// replaced and the link kept, and two outputs naming one file are found through links.
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { resolvedPath } from './output-dir.ts';
import { BadInputError } from '../errors.ts';
import { release, tempFile } from '../model/temp-files.ts';

/** Writes the content of one output to `temp`, a path that does not exist yet. */
export type OutputWriter = (temp: string) => Promise<void>;

// Kernel and device file systems: a temp file there fails or, worse, a rename
// replaces a device node.
const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * Throws BadInputError unless `path` could be written: its directory exists and is
 * writable, it is on no kernel or device file system, and nothing but a regular file
 * is in the way. Returns the path with every link resolved: the file to replace.
 */
export async function checkWritable(path: string, flag: string): Promise<string> {
  const real = await resolvedPath(path);
  const dir = dirname(real);
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new BadInputError(`${flag} ${path}: the directory ${dirname(resolve(path))} does not exist; create it or choose another path`);
  if (SPECIAL_ROOTS.some((root) => real === root || real.startsWith(`${root}/`))) throw new BadInputError(`${flag} ${path}: ${real} is on a kernel or device file system; write to a regular directory`);
  if (await access(dir, constants.W_OK).then(() => false, () => true)) throw new BadInputError(`${flag} ${path}: the directory ${dir} is not writable; choose another path`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new BadInputError(`${flag} ${path}: is a directory; pass a file name`);
  if (existing && !existing.isFile()) throw new BadInputError(`${flag} ${path}: is not a regular file; pass the path of a file`);
  return real;
}

export class OutputSet {
  /** Staged path -> its temporary, beside the file it replaces. */
  private readonly temps = new Map<string, string>();

  private constructor(private readonly flags: ReadonlyMap<string, string>, private readonly reals: ReadonlyMap<string, string>) {}

  /** Checks every given path (undefined: the option is absent) and refuses two options naming one file. */
  static async check(outputs: readonly (readonly [flag: string, path: string | undefined])[]): Promise<OutputSet> {
    const flags = new Map<string, string>();
    const reals = new Map<string, string>();
    const byReal = new Map<string, string>();
    for (const [flag, path] of outputs) {
      if (path === undefined) continue;
      const real = await checkWritable(path, flag);
      const other = byReal.get(real);
      if (other !== undefined) throw new BadInputError(`${other} and ${flag} both name ${path}; one would overwrite the other, so give each its own file`);
      byReal.set(real, flag);
      flags.set(path, flag);
      reals.set(path, real);
    }
    return new OutputSet(flags, reals);
  }

  /** Writes one output to a temporary file beside it; it replaces `path` only at commit(). */
  async stage(path: string, write: OutputWriter): Promise<void> {
    const temp = tempFile(this.target(path));
    this.temps.set(path, temp);
    try {
      await write(temp);
    } catch (e) {
      await this.discard();
      throw new BadInputError(`${this.flags.get(path) ?? 'output'} ${path}: cannot write: ${(e as Error).message}; no output file was changed`);
    }
  }

  /** Renames every staged file into place; renames within a directory do not fail for want of space. */
  async commit(): Promise<void> {
    for (const [path, temp] of this.temps) {
      await rename(temp, this.target(path));
      this.temps.delete(path);
      release(temp);
    }
  }

  private target(path: string): string {
    return this.reals.get(path) ?? path;
  }

  /** Removes whatever is staged and not committed; safe to call after commit(). */
  async discard(): Promise<void> {
    await Promise.all([...this.temps.values()].map((t) => rm(t, { force: true }).catch(() => undefined)));
    for (const t of this.temps.values()) release(t);
    this.temps.clear();
  }
}

/** Text, or text in pieces (a report larger than one string may be). */
export const textWriter = (text: string | Iterable<string>): OutputWriter => (temp) => writeFile(temp, text, { flag: 'wx', flush: true });

/** One text file written atomically (an output set of one). */
export async function writeTextAtomic(path: string, text: string, flag = 'output'): Promise<void> {
  const files = await OutputSet.check([[flag, path]]);
  try {
    await files.stage(path, textWriter(text));
    await files.commit();
  } finally {
    await files.discard();
  }
}
