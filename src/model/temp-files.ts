// Temporaries of atomic writes (a file staged beside its target, a directory filled
// beside the one it replaces) are named after the process that makes them. While
// one exists, SIGINT and SIGTERM remove it before the process ends (a gpt2-xl
// edit's would be gigabytes), and any exit removes what is left; a temporary of a
// process that died anyway (SIGKILL, power loss) is swept by the next write into
// that directory. Names carry the host too: on storage shared between machines or
// containers, a process id says nothing about another host's processes, so only
// this host's temporaries are ever swept.
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

const live = new Set<string>();
const swept = new Set<string>();
let exitHook = false;
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** False only when no process has this id; EPERM means it lives under another user. */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Eight characters at least, so a user's file is not mistaken for a temporary.
/** This host's name as it appears in temporaries' names. */
export const HOST_TAG = hostname().replace(/[^A-Za-z0-9-]/g, '-') || 'localhost';

const random = (): string => Math.random().toString(36).slice(2).padEnd(8, '0');

/** A new temporary file path beside `target` (same directory, so a rename cannot cross file systems). */
export function tempFile(target: string): string {
  return track(`${target}.${HOST_TAG}-${process.pid}.${random()}.tmp`);
}

/** A new temporary directory path beside `target`, hidden; `${it}.old` holds the replaced directory during the swap. */
export function tempDir(target: string): string {
  return track(join(dirname(target), `.${basename(target)}.partial-${HOST_TAG}-${process.pid}-${random()}`));
}

/** The temporary is gone or renamed into place: nothing to clean up any more. */
export function release(path: string): void {
  live.delete(path);
  if (live.size === 0) for (const sig of Object.keys(EXIT_CODES)) process.off(sig, onSignal);
}

function track(path: string): string {
  sweepStale(dirname(path));
  if (live.size === 0) for (const sig of Object.keys(EXIT_CODES)) process.on(sig, onSignal);
  if (!exitHook) process.on('exit', removeLive);
  exitHook = true;
  live.add(path);
  return path;
}

function removeLive(): void {
  for (const p of live) {
    cleanUp(p);
    if (existsSync(`${p}.old`)) cleanUp(`${p}.old`);
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  // A command that handles the signal itself (train writes a checkpoint) finishes its writes first.
  if (process.listenerCount(sig) > 1) return;
  process.exit(EXIT_CODES[sig as keyof typeof EXIT_CODES]);
}

// HOST_TAG holds only letters, digits and hyphens: nothing to escape.
const STALE_FILE = new RegExp(`^(.+)\\.${HOST_TAG}-(\\d+)\\.[a-z0-9]{8,}\\.tmp$`);
const STALE_DIR = new RegExp(`^\\.(.+)\\.partial-${HOST_TAG}-(\\d+)-[a-z0-9]{8,}(\\.old)?$`);

/** Removes the temporaries of dead processes in `dir`. */
function sweepStale(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = STALE_FILE.exec(name) ?? STALE_DIR.exec(name);
    if (m && !processAlive(Number(m[2]))) cleanUp(join(dir, name));
  }
}

/** Removes a temporary; a replaced directory (`.old`) whose replacement never arrived is renamed back: it is the only copy. */
function cleanUp(path: string): void {
  const m = STALE_DIR.exec(basename(path));
  const target = m?.[3] ? join(dirname(path), m[1]!) : undefined;
  try {
    if (target !== undefined && !existsSync(target)) renameSync(path, target);
    else rmSync(path, { recursive: true, force: true });
  } catch {
    // Another process swept it first, or it cannot be removed: nothing more to do.
  }
}
