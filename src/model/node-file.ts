// Node-only file access for safetensors: positioned reads through a FileHandle
// (the file is never read whole) and atomic writes (temp file + rename).

import { mkdir, open, readdir, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { release, tempDir, tempFile } from './temp-files.ts';
import { encodeSafetensors, SafetensorsError, streamSafetensors, type ByteSource, type TensorLayout, type TensorToWrite } from './safetensors.ts';

// FileHandle.read takes at most 2^31 - 1 bytes per call.
const MAX_READ = 1 << 30;

export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw ioError(path, e, 'read');
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new SafetensorsError(path, 'is not a regular file', { fix: 'pass the path of a .safetensors file' });
    return {
      name: path,
      size: stats.size,
      read: async (offset, length) => {
        const out = new Uint8Array(length);
        await readInto(handle, path, offset, out);
        return out;
      },
      readInto: (offset, target) => readInto(handle, path, offset, target),
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close();
    throw e instanceof SafetensorsError ? e : ioError(path, e, 'read');
  }
}

async function readInto(handle: FileHandle, path: string, offset: number, out: Uint8Array): Promise<void> {
  const length = out.length;
  for (let done = 0; done < length;) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(out, done, Math.min(length - done, MAX_READ), offset + done));
    } catch (e) {
      throw ioError(path, e, 'read');
    }
    if (bytesRead === 0) {
      throw new SafetensorsError(path, `ended at byte ${offset + done}, before the ${length} bytes expected at ${offset}`,
        { fix: 'the file shrank while being read; check nothing else is writing it and try again' });
    }
    done += bytesRead;
  }
}

/** Writes atomically: on any error an existing file at `path` is untouched and no temp file is left. */
export async function writeSafetensorsFile(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  await writeAtomic(path, encodeSafetensors(tensors, metadata, path));
}

/**
 * Writes atomically, asking `dataOf` for each tensor's data only as its turn comes,
 * so a file larger than memory is written holding one tensor at a time. A bad
 * tensor is found mid-write: the temp file goes and `path` is untouched.
 */
export async function writeSafetensorsStreamed<T extends TensorLayout>(path: string, tensors: readonly T[],
  dataOf: (t: T) => TensorToWrite['data'], metadata?: Record<string, string>): Promise<void> {
  await writeAtomic(path, streamSafetensors(tensors, dataOf, metadata, path));
}

async function writeAtomic(path: string, chunks: Iterable<Uint8Array>): Promise<void> {
  // A link stays a link: the file it names is replaced.
  const target = await realpath(path).catch(() => path);
  const temp = tempFile(target);
  try {
    await writeChunks(temp, chunks);
    await rename(temp, target);
  } catch (e) {
    // Report the write's own failure even if the clean-up fails too.
    await rm(temp, { force: true }).catch(() => undefined);
    throw e instanceof SafetensorsError ? e : ioError(path, e, 'write');
  } finally {
    release(temp);
  }
}

/** Writes a file that must not exist yet, flushed; for callers that stage and rename themselves. */
export async function writeSafetensorsNew(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  await writeChunks(path, encodeSafetensors(tensors, metadata, path));
}

async function writeChunks(path: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    let position = 0;
    for (const chunk of chunks) {
      for (let done = 0; done < chunk.length;) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position);
        done += bytesWritten;
        position += bytesWritten;
      }
    }
    // Flushed before the rename, so a crash cannot leave a renamed but empty file.
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// errno code -> [what went wrong, what to do]
const IO_PROBLEMS: Record<string, [string, string]> = {
  ENOENT: ['no such file or directory', 'check the path'],
  EACCES: ['permission denied', 'check the permissions of the file and its directory'],
  EPERM: ['permission denied', 'check the permissions of the file and its directory'],
  EISDIR: ['it is a directory', 'pass the path of a file'],
  ENOTEMPTY: ['a directory is in the way', 'choose another path'],
  EEXIST: ['a directory is in the way', 'choose another path'],
  ENOTDIR: ['a parent in the path is not a directory', 'check the path'],
  ENOSPC: ['no space left on the device', 'free some disk space'],
  EROFS: ['the file system is read-only', 'choose another location'],
};

function ioError(path: string, e: unknown, action: 'read' | 'write'): SafetensorsError {
  const err = e as NodeJS.ErrnoException;
  const [problem, fix] = IO_PROBLEMS[err.code ?? ''] ?? [err.message, 'check the path and try again'];
  return new SafetensorsError(path, `cannot ${action}: ${problem}`, { fix });
}

/**
 * Builds a directory beside `out` with `fill`, then swaps it in for `out`: a failure
 * leaves no half-written directory, and an earlier `out` (replaced only when empty
 * or `replace`) is moved aside, not deleted, until the new one is in place.
 */
export async function replaceDirAtomic(out: string, fill: (dir: string) => Promise<void>, replace: boolean): Promise<void> {
  // A link to a directory stays a link: the directory it names is replaced.
  const full = await realpath(resolve(out)).catch(() => resolve(out));
  const temp = tempDir(full);
  const old = `${temp}.old`;
  try {
    await mkdir(temp);
    await fill(temp);
    const existing = await readdir(full).then((e) => e.length, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return -1;
      throw e;
    });
    if (existing > 0 && !replace) throw new Error(`${out} exists and is not empty`);
    if (existing >= 0) await rename(full, old);
    await rename(temp, full).catch(async (e) => {
      if (existing >= 0) await rename(old, full);
      throw e;
    });
  } catch (e) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    release(temp);
    throw e;
  }
  await rm(old, { recursive: true, force: true });
  release(temp);
}
