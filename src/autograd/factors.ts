// The gradient of a linear layer z = xW kept as its low-rank factors (paper §4.1,
// Eq. 8): X = [x_1..x_n] (n x in) and Delta = [delta_1..delta_n] (n x out), with
// dL/dW = X^T Delta. Nothing here allocates the in x out matrix unless asked.
import { readAll, upload, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { addOuterProducts, gemm, type ColumnRange } from '../gpu/gemm.ts';
import type { Tensor, WeightLayout } from '../tensor.ts';
import { rankOfProduct } from './linalg.ts';

export interface RankResult {
  rank: number;
  /** Singular values of R_X R_Delta^T, largest first: those of X^T Delta. */
  singularValues: Float64Array;
  /**
   * The decision's margin: in the singular values that decided the rank, the last
   * kept over the first dropped (Infinity when that one is exactly 0); null when
   * none was dropped.
   */
  margin: number | null;
  /** A singular value of X^T Delta lies within 1e-9..1e-7 of the largest, near the threshold: the rank may be off by one. */
  ambiguous: boolean;
}

export class LinearFactors {
  constructor(
    private readonly k: Kernels,
    readonly name: string,
    /** Layer inputs x_i, [n, in]. */
    readonly X: Tensor,
    /** VJPs delta_i = dL/dz_i, [n, out]; set by the backward pass. */
    public delta: Tensor | null = null,
    /** The weight's layout: the dense gradient and the update take it; X and Delta do not depend on it. */
    readonly layout: WeightLayout = 'in_out',
  ) {}

  get rows(): number {
    return this.X.rows;
  }
  get inDim(): number {
    return this.X.cols;
  }
  get outDim(): number {
    return this.delta?.cols ?? 0;
  }

  tensors(): Tensor[] {
    return this.delta ? [this.X, this.delta] : [this.X];
  }

  private requireDelta(): Tensor {
    if (!this.delta) throw new Error(`${this.name}: no gradient reached this layer; run backward() first`);
    return this.delta;
  }

  /**
   * dL/dW as a dense tensor in the weight's own layout, so it adds onto W: X^T Delta
   * [in, out], or Delta^T X [out, in] for 'out_in' (tests, training, users who ask).
   */
  materialize(): Tensor {
    const d = this.requireDelta();
    const out = zeros(this.k, this.layout === 'out_in' ? [this.outDim, this.inDim] : [this.inDim, this.outDim], 'f32', `${this.name}.grad`);
    addOuterProducts(this.k, out.buffer, this.layout, this.X.buffer, d.buffer, this.rows, this.inDim, this.outDim, 1, 0);
    return out;
  }

  /**
   * Exact rank of X^T Delta from an n x n problem (Lemma 4.1): thin QR of X^T and
   * Delta^T, then the singular values of R_X R_Delta^T, in float64 on the CPU.
   */
  async rank(): Promise<RankResult> {
    const d = this.requireDelta();
    const [x, delta] = await readAll(this.k, [this.X, d]);
    return rankOfProduct(x as Float32Array, delta as Float32Array, this.rows, this.inDim, this.outDim);
  }

  /** dL/db = sum_i delta_i as a dense [out] tensor: the bias gradient, a ones[1, n] . Delta product. */
  biasGradient(): Tensor {
    const d = this.requireDelta();
    const ones = upload(this.k, [1, this.rows], new Float32Array(this.rows).fill(1));
    const out = zeros(this.k, [this.outDim], 'f32', `${this.name}.bias.grad`);
    gemm(this.k, { A: ones.buffer, B: d.buffer, C: out.buffer, M: 1, N: this.outDim, K: this.rows });
    ones.dispose();
    return out;
  }

  /**
   * One gradient-descent step straight from the factors: W <- W - eta dL/dW in W's
   * layout, one kernel; with `outputs`, on those output columns only (one stored
   * module of a joined weight).
   */
  applyUpdate(W: Tensor, eta: number, outputs?: ColumnRange): void {
    const d = this.requireDelta();
    const [rows, cols] = this.layout === 'out_in' ? [this.outDim, this.inDim] : [this.inDim, this.outDim];
    if (W.rows !== rows || W.cols !== cols) throw new RangeError(`${this.name}: weight is [${W.shape}] but the factors give [${rows}, ${cols}] (${this.layout})`);
    if (outputs && (outputs.from < 0 || outputs.width < 1 || outputs.from + outputs.width > this.outDim)) throw new RangeError(`${this.name}: output columns ${outputs.from}..${outputs.from + outputs.width} outside 0..${this.outDim}`);
    addOuterProducts(this.k, W.buffer, this.layout, this.X.buffer, d.buffer, this.rows, this.inDim, this.outDim, -eta, 1, outputs);
  }

  /**
   * Gradient neurons: rows [start, start+count) of X^T Delta. Row j is input neuron j's
   * gradient, sum_i x_i[j] delta_i (FF2 in the paper's Eq. 10). Blocks bound memory.
   */
  neuronRows(start: number, count: number): Tensor {
    const d = this.requireDelta();
    if (start < 0 || count < 0 || start + count > this.inDim) throw new RangeError(`${this.name}: neuron rows ${start}..${start + count} outside 0..${this.inDim}`);
    const out = zeros(this.k, [count, this.outDim], 'f32', `${this.name}.rows`);
    gemm(this.k, { A: this.X.buffer, B: d.buffer, C: out.buffer, M: count, N: this.outDim, K: this.rows, transA: true, lda: this.inDim, offA: start });
    return out;
  }

  /**
   * Gradient columns [start, start+count) of X^T Delta, returned as rows: column j is
   * output neuron j's gradient, sum_i x_i delta_i[j] (FF1 in the paper's Eq. 9).
   */
  neuronColumns(start: number, count: number): Tensor {
    const d = this.requireDelta();
    if (start < 0 || count < 0 || start + count > this.outDim) throw new RangeError(`${this.name}: neuron columns ${start}..${start + count} outside 0..${this.outDim}`);
    const out = zeros(this.k, [count, this.inDim], 'f32', `${this.name}.columns`);
    gemm(this.k, { A: d.buffer, B: this.X.buffer, C: out.buffer, M: count, N: this.inDim, K: this.rows, transA: true, lda: this.outDim, offA: start });
    return out;
  }
}
