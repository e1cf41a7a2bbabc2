// What the per-neuron view of one gradient matrix returns (paper App. B, Tables 2-5,
// Fig. 8-10): plain data for the report layer. A gradient neuron is a d-dimensional
// row or column of X^T Delta: for FF2 row j is sum_i x_i[j] delta_i (Eq. 10), for FF1
// column j is sum_i x_i delta_i[j] (Eq. 9).
import type { Role } from '../../model/config.ts';
import type { ExcludedRows, TokenProb } from '../types.ts';

/** The paper compares the 100 most probable tokens of two vectors (Fig. 8a). */
export const OVERLAP_DEPTH = 100;

/**
 * 'rows': neuron j is row j of X^T Delta, spanned by the delta_i (FF2, attn_out:
 * modules that write into the residual stream); 'columns': neuron j is column j,
 * spanned by the x_i (FF1, attn_in: modules that read from it).
 */
export type NeuronOrientation = 'rows' | 'columns';

export interface NeuronRequest {
  layer: number;
  role: Role;
  /**
   * A stored module of the role (Llama's mlp.up_proj, or ff1 for it), whose neurons
   * are its own columns of the role's gradient; absent or naming the whole role, the
   * role's matrix.
   */
  module?: string;
  /** Which pair of the pass: its rows of X and Delta span the neurons. */
  pair: number;
}

export interface NeuronOptions {
  /** Tokens per LL list of each representative neuron and spanning vector. */
  k: number;
  /** Normalized logit lens (App. F), for the lists and the top-100 sets alike. */
  normalized: boolean;
  /** Neurons per norm group (Table 2 shows 3; default 10). */
  groupSize?: number;
  /** Neurons formed on the GPU at once: bounds the [block, vocab] logits (default 128). */
  blockSize?: number;
}

export interface Lens {
  readonly top: readonly TokenProb[];
  readonly bottom: readonly TokenProb[];
}

/** Spanning vector s_i: delta_i or x_i at prompt token i (Tables 3, 5). */
export interface SpanningVector extends Lens {
  readonly position: number;
  readonly norm: number;
}

/** One representative neuron (a row of Tables 2, 4). */
export interface NeuronSample extends Lens {
  readonly index: number;
  readonly norm: number;
  /** Signed top-100 intersection with each s_i; see NeuronView.intersection. */
  readonly intersection: readonly number[];
  readonly zeroIntersection: number;
  readonly cosine: readonly number[];
}

/** Means over a set of neurons, per spanning vector. */
export interface NeuronStats {
  readonly count: number;
  readonly meanIntersection: readonly number[];
  readonly meanAbsIntersection: readonly number[];
  readonly meanCosine: readonly number[];
  readonly meanAbsCosine: readonly number[];
  /** Mean top-100 intersection with the zero vector's LL. */
  readonly meanZeroIntersection: number;
  /** Neurons whose largest |cosine| is with s_i (zero neurons are not counted). */
  readonly closest: readonly number[];
}

export type NeuronGroupName = 'largest' | 'median' | 'smallest';

export interface NeuronGroup {
  readonly name: NeuronGroupName;
  /** Largest norm first. */
  readonly neurons: readonly NeuronSample[];
  readonly stats: NeuronStats;
}

export interface NeuronView {
  readonly layer: number;
  /** The checkpoint's name of the module (Family.modules); roleNamed() gives its role. */
  readonly module: string;
  readonly orientation: NeuronOrientation;
  readonly spannedBy: 'x' | 'delta';
  /** Number of neurons (rows or columns of X^T Delta); each is d-dimensional. */
  readonly neuronCount: number;
  /** `excluded`: as an analysis's settings; absent when no row is left out. */
  readonly settings: { readonly k: number; readonly normalized: boolean; readonly groupSize: number; readonly depth: number; readonly excluded?: ExcludedRows };
  readonly spanning: readonly SpanningVector[];
  /** LL of the zero vector: where neurons of negligible norm project (Table 2's last row). */
  readonly zero: Lens;
  /** Every neuron's norm, by neuron index. */
  readonly norms: readonly number[];
  /**
   * [neuron][i]: |top-100(g_j) ∩ top-100(s_i)|, or minus |top-100(g_j) ∩ top-100(-s_i)|
   * when flipping s_i's sign shares more tokens (Fig. 8a).
   */
  readonly intersection: readonly (readonly number[])[];
  /** [neuron]: |top-100(g_j) ∩ top-100(0)|. */
  readonly zeroIntersection: readonly number[];
  /** [neuron][i]: cos(g_j, s_i), 0 where either vector is zero. */
  readonly cosine: readonly (readonly number[])[];
  readonly groups: readonly NeuronGroup[];
  readonly all: NeuronStats;
}
