// One progress line on stderr: redrawn in place on a terminal, every few seconds otherwise.
export class Progress {
  private readonly started = performance.now();
  private lastPrint = 0;

  constructor(private readonly total: number, private readonly first = 0) {}

  update(done: number, text: string): void {
    const now = performance.now();
    const tty = process.stderr.isTTY;
    if (!tty && now - this.lastPrint < 10_000 && done < this.total) return;
    this.lastPrint = now;
    const rate = (done - this.first) / ((now - this.started) / 1000);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const line = `${done}/${this.total} ${text} | ETA ${clock(eta)}`;
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  done(): void {
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
