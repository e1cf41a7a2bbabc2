// One thread's share of the CPU lens (lens-wasm.ts): its rows of h against every chunk
// of the embedding, in order, in its own WebAssembly instance (lens-wasm.wat). The
// function is self-contained, no imports and nothing from the module's scope, because
// lens-thread.ts also runs its source text in a worker.

export interface CoreSetup {
  R: number;
  d: number;
  /** Ids per chunk, a multiple of 8. */
  C: number;
  count: number;
  watched: readonly number[];
  /** [R, W]: each row's logit of each watched id, bit-identical to the chunk's. */
  watchedLogits: Float32Array;
  /** [R, d] */
  h: Float32Array;
}

export interface LensCore {
  /** Where the next chunk's rows go, as blocks of 8 ids, each k-major [d][8]. */
  packed(): Float32Array;
  /**
   * Projects the packed chunk: ids id0 .. id0 + n - 1, the chunks in the vocabulary's
   * order; `skipped` are the indices in it of ids the lists and ranks leave out.
   */
  chunk(id0: number, n: number, skipped: ArrayLike<number>): void;
  /** The rows' result words, as lens_merge writes them (gpu/lens.ts: decodeLens). */
  result(): Float32Array;
}

interface Exports {
  memory: WebAssembly.Memory;
  logits(hAt: number, rows: number, d: number, eAt: number, blocks: number, outAt: number, C: number): void;
  rowMax(at: number, n4: number): number;
  sumExp(at: number, n4: number, m: number): number;
  next(at: number, from: number, n: number, t: number, sign: number): number;
  counts(at: number, n4: number, t: number, outAt: number): void;
}

export function lensCore(module: WebAssembly.Module, s: CoreSetup): LensCore {
  // Rows of h in one tile of lens-wasm.wat's `logits`; ids per block.
  const TILE_ROWS = 4;
  const IDS = 8;
  // kernels/lens.wgsl's LOWEST, as an f32: an empty place's bound, so what its lists leave out is left out here.
  const LOWEST = Math.fround(-3.4e38);
  const { R, d, C, count: k, watched, watchedLogits } = s;
  const W = watched.length;
  const rows = Math.ceil(R / TILE_ROWS) * TILE_ROWS;
  // h [rows, d], the chunk's blocks [C / 8][d][8], its logits [rows, C], then a vector's
  // slack for `next`'s whole-vector reads and 4 words of counts.
  const eAt = rows * d * 4;
  const outAt = eAt + C * d * 4;
  const countsAt = outAt + rows * C * 4 + 16;
  const e = new WebAssembly.Instance(module).exports as unknown as Exports;
  const grow = countsAt + 16 - e.memory.buffer.byteLength;
  if (grow > 0) e.memory.grow(Math.ceil(grow / 65536));
  new Float32Array(e.memory.buffer, 0, R * d).set(s.h);
  const logits = new Float32Array(e.memory.buffer, outAt, rows * C);
  const counts = new Int32Array(e.memory.buffer, countsAt, 3);
  // [0] top, [1] bottom: scores ordered best first, ties to the lower id.
  const scores = [new Float32Array(R * k).fill(LOWEST), new Float32Array(R * k).fill(-LOWEST)];
  const ids = [new Int32Array(R * k).fill(-1), new Int32Array(R * k).fill(-1)];
  const filled = [new Int32Array(R), new Int32Array(R)];
  const above = new Int32Array(R * W);
  const below = new Int32Array(R * W);
  // Each row's log-sum-exp so far: its largest logit and the sum of exp(logit - largest).
  const max = new Float64Array(R).fill(-Infinity);
  const sum = new Float64Array(R);

  // Offers row r's n logits at `at` (ids id0 ..) to both lists: `next` finds those beyond the
  // k-th. The ids arrive in ascending order, so a logit equal to the k-th never displaces it.
  function offer(r: number, at: number, n: number, id0: number): void {
    const base = r * k;
    for (let which = 0; which < 2; which++) {
      const sign = which === 0 ? 1 : -1;
      const sc = scores[which]!;
      const id = ids[which]!;
      const fill = filled[which]!;
      const bound = () => (fill[r] === k ? sc[base + k - 1]! : sign * LOWEST);
      for (let i = e.next(at, 0, n, bound(), sign); i < n; i = e.next(at, i + 1, n, bound(), sign)) {
        const v = logits[r * C + i]!;
        let to = Math.min(fill[r]!, k - 1);
        while (to > 0 && sign * sc[base + to - 1]! < sign * v) {
          sc[base + to] = sc[base + to - 1]!;
          id[base + to] = id[base + to - 1]!;
          to--;
        }
        sc[base + to] = v;
        id[base + to] = id0 + i;
        if (fill[r]! < k) fill[r]!++;
      }
    }
  }

  return {
    packed: () => new Float32Array(e.memory.buffer, eAt, C * d),
    chunk(id0, n, skipped) {
      e.logits(0, rows, d, eAt, Math.ceil(n / IDS), outAt, C);
      const n4 = Math.ceil(n / 4);
      for (let r = 0; r < R; r++) {
        const row = r * C;
        const at = outAt + row * 4;
        logits.fill(NaN, row + n, row + 4 * n4);
        const m = e.rowMax(at, n4);
        if (m > max[r]!) {
          sum[r] = sum[r]! * Math.exp(max[r]! - m);
          max[r] = m;
        }
        if (m > -Infinity) sum[r]! += e.sumExp(at, n4, max[r]!);
        // Skipped ids stay in the sum of exp; as NaN they enter no list and no count.
        for (let j = 0; j < skipped.length; j++) logits[row + skipped[j]!] = NaN;
        offer(r, at, n, id0);
        for (let w = 0; w < W; w++) {
          const v = watchedLogits[r * W + w]!;
          e.counts(at, n4, v, countsAt);
          let ties = 0;
          // A tie ranks above the watched id when its id is lower (gpu/vocab.ts's order).
          if (counts[2]! > 0) for (let i = 0; i < n && id0 + i < watched[w]!; i++) if (logits[row + i] === v) ties++;
          above[r * W + w]! += counts[0]! + ties;
          below[r * W + w]! += counts[1]! + ties;
        }
      }
    },
    result() {
      const words = 1 + 4 * k + 2 * W;
      const out = new Float32Array(R * words);
      const ints = new Int32Array(out.buffer);
      for (let r = 0; r < R; r++) {
        const at = r * words;
        const span = [r * k, (r + 1) * k] as const;
        out[at] = max[r]! + Math.log(sum[r]!);
        out.set(scores[0]!.subarray(...span), at + 1);
        ints.set(ids[0]!.subarray(...span), at + 1 + k);
        out.set(scores[1]!.subarray(...span), at + 1 + 2 * k);
        ints.set(ids[1]!.subarray(...span), at + 1 + 3 * k);
        ints.set(above.subarray(r * W, (r + 1) * W), at + 1 + 4 * k);
        ints.set(below.subarray(r * W, (r + 1) * W), at + 1 + 4 * k + W);
      }
      return out;
    },
  };
}
