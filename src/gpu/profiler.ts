// Per-dispatch GPU time from timestamp queries, summed by kernel entry point: the
// per-op breakdown of the benches. Each profiled dispatch gets its own compute pass.

export interface OpTime {
  op: string;
  ms: number;
  count: number;
}

const CAPACITY = 2048; // dispatches per query set before it is resolved

export class Profiler {
  private querySet: GPUQuerySet;
  private labels: string[] = [];
  private pending: { buffer: GPUBuffer; labels: string[] }[] = [];
  private totals = new Map<string, OpTime>();

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * CAPACITY });
  }

  get full(): boolean {
    return this.labels.length >= CAPACITY;
  }

  /** Timestamp writes for the next dispatch's pass. */
  next(label: string): GPUComputePassTimestampWrites {
    const i = this.labels.push(label) - 1;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve of this batch's queries; call right before the encoder is finished. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length;
    if (n === 0) return;
    const bytes = 16 * n;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
    this.pending.push({ buffer: readback, labels: this.labels });
    this.labels = [];
  }

  /** Reads every resolved batch (after the work was submitted) into the totals. */
  async collect(): Promise<OpTime[]> {
    for (const { buffer, labels } of this.pending) {
      await buffer.mapAsync(GPUMapMode.READ);
      const t = new BigInt64Array(buffer.getMappedRange());
      labels.forEach((op, i) => {
        const ns = Number(t[2 * i + 1]! - t[2 * i]!);
        const entry = this.totals.get(op) ?? { op, ms: 0, count: 0 };
        entry.ms += Math.max(0, ns) / 1e6;
        entry.count++;
        this.totals.set(op, entry);
      });
      buffer.destroy();
    }
    this.pending = [];
    return [...this.totals.values()].sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
  }
}
