// One writer per output directory: two runs appending to one records.jsonl would
// write every line twice. The lock is a file holding the writer's process id; a
// lock whose process is gone (killed, crashed) is taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../model/temp-files.ts';
import { UsageError } from './common.ts';

const LOCK_FILE = '.lock';

/** Takes `dir`'s lock until the process exits; a live holder is refused with one line. */
export function lockDir(dir: string, flag: string): void {
  const file = join(dir, LOCK_FILE);
  let holder = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      process.on('exit', () => rmSync(file, { force: true }));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      holder = Number(readFileSync(file, 'utf8').trim());
    } catch {
      // Released between our attempt and this read: try again.
      continue;
    }
    if (processAlive(holder)) break;
    // The holder died without removing its lock.
    rmSync(file, { force: true });
  }
  throw new UsageError(`${flag} ${dir} is in use by another run (process ${holder}); wait for it to finish or choose another directory`);
}
