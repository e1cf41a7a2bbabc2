// The tape: ops record a backward closure as they run forward; backward() replays
// them in reverse. It also owns every tensor made while it is alive, so one
// dispose() frees a whole forward/backward pass except what was kept.
import { upload, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { grid1d } from '../gpu/kernels.ts';
import { ELEMENTWISE } from '../gpu/sources.ts';
import type { DType, Tensor } from '../tensor.ts';
import type { LinearFactors } from './factors.ts';

export interface TapeOptions {
  /** Record backward closures. False for inference-only passes. */
  grad?: boolean;
  /**
   * Also form dense gradients of parameters (layernorm, biases, embeddings, and
   * linear weights from their factors) for training. Analysis leaves this off and
   * computes only input gradients.
   */
  paramGrads?: boolean;
}

export class Tape {
  readonly grad: boolean;
  readonly paramGrads: boolean;
  readonly factors = new Map<string, LinearFactors>();
  private entries: (() => void)[] = [];
  private grads = new Map<Tensor, Tensor>();
  private owned = new Set<Tensor>();
  private kept = new Set<Tensor>();

  constructor(readonly k: Kernels, opts: TapeOptions = {}) {
    this.grad = opts.grad ?? false;
    this.paramGrads = opts.paramGrads ?? false;
  }

  /** A zero tensor owned by this tape. */
  zeros(shape: readonly number[], dtype: DType = 'f32', name = ''): Tensor {
    return this.own(zeros(this.k, shape, dtype, name));
  }

  /** An uploaded constant owned by this tape (seeds, ones, index lists). */
  constant(shape: readonly number[], data: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32'): Tensor {
    return this.own(upload(this.k, shape, data, dtype));
  }

  own(t: Tensor): Tensor {
    this.owned.add(t);
    return t;
  }

  /** Excludes a tensor from dispose(): the caller now owns it. */
  keep(t: Tensor): Tensor {
    this.kept.add(t);
    return t;
  }

  record(backward: () => void): void {
    if (this.grad) this.entries.push(backward);
  }

  /**
   * The gradient accumulated into t. After a full backward, a residual-stream tensor's
   * buffer is shared with the residual below it (add() hands its output's gradient on
   * without a copy), so read gradients of tensors that enter the model (leaves, or a
   * tensor added by a hook), not of intermediate residuals.
   */
  gradOf(t: Tensor): Tensor | undefined {
    return this.grads.get(t);
  }

  /** Adds g into t's gradient: a tensor used twice (the residual stream) gets both. */
  accumulate(t: Tensor, g: Tensor): void {
    const prev = this.grads.get(t);
    if (!prev) {
      this.grads.set(t, g);
      return;
    }
    // Tensors of one shape are split alike, so blocks pair up (the embedding's gradient).
    prev.blocks.forEach((b, i) => {
      const n = prev.split ? b.rows * prev.cols : prev.size;
      this.k.dispatch(ELEMENTWISE, 'accumulate', [n, 0], [b.buffer, g.blocks[i]!.buffer], grid1d(n, 64));
    });
  }

  /** The position of the next recorded op: backward(…, mark) stops there. */
  mark(): number {
    return this.entries.length;
  }

  /**
   * Seeds d(loss)/d(loss) with `seed` (ones by default) and runs the tape backwards,
   * down to the op recorded at `stopAt` (a mark()): ops recorded before it are skipped,
   * so tensors made before the mark get no gradient. For a gradient with respect to a
   * tensor that enters mid-model (ROME's value vector), the layers below it are not run.
   */
  backward(loss: Tensor, seed?: Tensor, stopAt = 0): void {
    if (!this.grad) throw new Error('this tape was made with grad: false; make it with { grad: true } to call backward()');
    this.grads.set(loss, seed ?? this.constant(loss.shape, new Float32Array(loss.size).fill(1)));
    for (let i = this.entries.length - 1; i >= stopAt; i--) this.entries[i]!();
    this.entries = [];
  }

  /** Frees every tensor this tape made, except kept ones and the factors' tensors. */
  dispose(): void {
    const keep = new Set(this.kept);
    for (const f of this.factors.values()) f.tensors().forEach((t) => keep.add(t));
    for (const t of this.owned) if (!keep.has(t)) t.dispose();
    this.owned.clear();
    this.grads.clear();
    this.entries = [];
  }
}
