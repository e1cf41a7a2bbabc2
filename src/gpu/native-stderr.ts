// Dawn writes notices about limits it clamps straight to file descriptor 2 from
// native code, where no option reaches them: on lavapipe every adapter request prints
// "Warning: maxDynamic{Uniform,Storage}BuffersPerPipelineLayout artificially
// reduced…". While an adapter is requested, fd 2 points at an unlinked temporary
// file; afterwards everything caught there but those known lines goes to stderr, in
// order. Only a terminal or a pipe is redirected: reopening one through
// /proc/self/fd gives the same stream back, whereas a regular file reopened gets an
// offset of its own, and stdout sharing the old one (`> log 2>&1`) would overwrite it.
// Node modules come in dynamically: the browser bundle includes this file unreached.

type Fs = typeof import('node:fs');

const KNOWN = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** The native output with Dawn's known limit notices removed. */
function withoutKnownWarnings(text: string): string {
  return text.split(/(?<=\n)/).filter((line) => !KNOWN.test(line.replace(/\r?\n$/, ''))).join('');
}

/** Runs `request` with Dawn's known notices on fd 2 dropped; where fd 2 cannot be swapped safely, just runs it. */
export async function quietNative<T>(request: () => Promise<T>): Promise<T> {
  const swap = swapStderr(await import('node:fs'), (await import('node:os')).tmpdir());
  if (!swap) return request();
  try {
    return await request();
  } finally {
    const caught = swap.restore();
    if (caught) process.stderr.write(withoutKnownWarnings(caught));
  }
}

function swapStderr(fs: Fs, tmp: string): { restore(): string } | undefined {
  const { closeSync, fstatSync, openSync, readSync, unlinkSync } = fs;
  if (process.platform !== 'linux' || !isOpen(fs, 0) || !isOpen(fs, 1)) return undefined;
  let original: number;
  try {
    const st = fstatSync(2);
    if (!st.isFIFO() && !st.isCharacterDevice()) return undefined;
    original = openSync('/proc/self/fd/2', 'a');
  } catch {
    return undefined;
  }
  const path = `${tmp}/backward-lens-stderr-${process.pid}`;
  closeSync(2);
  let capture = -1;
  try {
    capture = openSync(path, 'wx+');
    unlinkSync(path);
  } catch {
    // fd 2 is free again: give the original stream back before anything else can land there.
  }
  if (capture !== 2) {
    if (capture >= 0) closeSync(capture);
    reopen(fs, original);
    return undefined;
  }
  return {
    restore(): string {
      const chunks: Buffer[] = [];
      const buf = Buffer.alloc(65536);
      for (let at = 0, n; (n = readSync(2, buf, 0, buf.length, at)) > 0; at += n) chunks.push(Buffer.from(buf.subarray(0, n)));
      closeSync(2);
      reopen(fs, original);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** Reopens the saved stream as the lowest free descriptor, fd 2 here, and drops the saved one. */
function reopen(fs: Fs, saved: number): void {
  fs.openSync(`/proc/self/fd/${saved}`, 'a');
  fs.closeSync(saved);
}

function isOpen(fs: Fs, fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
