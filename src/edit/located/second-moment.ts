// The second moment C = E[k kᵀ] of FF2's input k (the GELU output, width f = 4d) at
// chosen layers: the key statistics ROME and MEMIT whiten their updates with (ROME's
// rome/layer_stats.py collects the uncentred "mom2" the same way). Batched forward
// passes over token windows; a hook at `blocks.L.mlp.hook_post` adds kᵀk of the
// batch into an [f, f] float32 accumulator on the GPU (one matmul per batch), which
// is flushed into float64 on the CPU every few thousand tokens so that rounding does
// not grow with the corpus.
import { Tape } from '../../autograd/tape.ts';
import { readF32, zeros } from '../../gpu/buffers.ts';
import type { Model, Hook } from '../../model/model.ts';
import { gemm } from '../../gpu/gemm.ts';
import type { Tensor } from '../../tensor.ts';
import { leadIds, type Tokenizer } from '../../tokenizer/tokenizer.ts';

export interface MomentProgress {
  tokens: number;
  total: number;
  /** Tokens whose sums were read back: the GPU has finished them, so a rate over these is a true one. */
  flushed: number;
}

export interface SecondMoments {
  /** Per layer, E[k kᵀ] as a row-major [f, f] float64 matrix. */
  moments: Map<number, Float64Array>;
  /** Tokens averaged over. */
  tokens: number;
}

/** Token windows of `length` cut from one stream, the last partial window dropped, at most `maxTokens` tokens. */
export function tokenWindows(stream: readonly number[], length: number, maxTokens = Infinity): number[][] {
  const windows: number[][] = [];
  for (let at = 0; at + length <= stream.length && (windows.length + 1) * length <= maxTokens; at += length) windows.push(stream.slice(at, at + length));
  return windows;
}

/**
 * Windows of `length` tokens from `text`, encoded line by line so that a line the
 * vocabulary cannot spell (a reduced one) drops out alone. Each window starts as the
 * model reads any text (BOS first where the tokenizer adds one, as ROME's statistics
 * tokenize each sample), so the keys are those an edited prompt produces.
 */
export function textWindows(tokenizer: Tokenizer, text: string, length: number, maxTokens = Infinity): number[][] {
  const lead = leadIds(tokenizer);
  const stream: number[] = [];
  for (const line of text.split('\n')) {
    if (stream.length >= maxTokens) break;
    if (line.trim() === '') continue;
    try {
      stream.push(...tokenizer.encode(`${line}\n`));
    } catch {
      // unencodable in this vocabulary: skipped
    }
  }
  const body = length - lead.length;
  return tokenWindows(stream, body, Math.floor(maxTokens / length) * body).map((w) => [...lead, ...w]);
}

/** Accumulates C at `layers` over `windows` (equal lengths, so no padding enters), `batch` windows per pass. */
export async function secondMoments(
  model: Model,
  windows: readonly (readonly number[])[],
  layers: readonly number[],
  opts: { batch?: number; flushTokens?: number; onProgress?: (p: MomentProgress) => void } = {},
): Promise<SecondMoments> {
  const k = model.k;
  const f = model.config.nInner;
  if (windows.length === 0) throw new RangeError('no token windows to collect statistics over');
  const T = windows[0]!.length;
  if (windows.some((w) => w.length !== T)) throw new RangeError('token windows differ in length');
  const batch = opts.batch ?? Math.max(1, Math.floor(4096 / T));
  const flushTokens = opts.flushTokens ?? 16384;
  const total = windows.length * T;
  const sums = new Map(layers.map((l) => [l, new Float64Array(f * f)]));
  const acc = new Map<string, Tensor>(layers.map((l) => [`blocks.${l}.mlp.hook_post`, zeros(k, [f, f], 'f32', `mom2.${l}`)]));
  let fresh = true; // the next product overwrites the accumulators instead of adding
  let pending = 0;
  let done = 0;
  let flushed = 0;
  const flush = async () => {
    for (const l of layers) {
      const part = await readF32(k, acc.get(`blocks.${l}.mlp.hook_post`)!);
      const sum = sums.get(l)!;
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + part[i]!;
    }
    fresh = true;
    pending = 0;
    flushed = done;
  };
  try {
    for (let at = 0; at < windows.length; at += batch) {
      const group = windows.slice(at, at + batch);
      const n = group.length * T;
      const hook: Hook = (name, act) => {
        const into = acc.get(name);
        if (into) gemm(k, { A: act.buffer, B: act.buffer, C: into.buffer, M: f, N: f, K: n, transA: true, beta: fresh ? 0 : 1 });
      };
      const tape = new Tape(k);
      try {
        model.runBlocks(tape, group, Math.max(...layers), hook);
      } finally {
        tape.dispose();
      }
      fresh = false;
      pending += n;
      done += n;
      if (pending >= flushTokens || done === total) await flush();
      opts.onProgress?.({ tokens: done, total, flushed });
    }
  } finally {
    for (const t of acc.values()) t.dispose();
  }
  for (const sum of sums.values()) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! / total;
  return { moments: sums, tokens: total };
}
