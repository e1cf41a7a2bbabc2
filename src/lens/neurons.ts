// The per-neuron view of one gradient matrix (paper App. B, Tables 2-5, Fig. 8-10).
// A gradient neuron is a d-dimensional row or column of X^T Delta: for FF2 row j is
// sum_i x_i[j] delta_i (Eq. 10), for FF1 column j is sum_i x_i delta_i[j] (Eq. 9).
// Every neuron is a combination g_j = sum_i c_ji s_i of the n spanning vectors s_i,
// so norms and cosines come from the n x n Gram matrix of the s_i in float64 on the
// CPU, and only the vocabulary projections need the neurons themselves: the GPU
// forms them a block at a time from the factors, projects them, and returns for
// each neuron only how many of its top-100 tokens each spanning vector shares.
import type { LinearFactors } from '../autograd/factors.ts';
import { Tape } from '../autograd/tape.ts';
import { readAll, upload, zeros } from '../gpu/buffers.ts';
import { ROLES, type Role } from '../model/config.ts';
import { MODULE_NAMES, roleNamed } from '../model/families/index.ts';
import type { Model } from '../model/model.ts';
import { normalizeRows } from '../gpu/rows.ts';
import { topkMembers, topkOverlap } from '../gpu/overlap.ts';
import { MAX_K } from '../gpu/vocab.ts';
import type { Tensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer/gpt2-bpe.ts';
import { logitLens, type Projection } from './logit-lens.ts';
import type { GradientPass } from '../pass/pass.ts';
import { BadInputError } from '../pass/prepare.ts';
import type { TokenProb } from './types.ts';

/** The paper compares the 100 most probable tokens of two vectors (Fig. 8a). */
export const OVERLAP_DEPTH = 100;

/**
 * 'rows': neuron j is row j of X^T Delta, spanned by the delta_i (FF2, attn_out:
 * modules that write into the residual stream); 'columns': neuron j is column j,
 * spanned by the x_i (FF1, attn_in: modules that read from it).
 */
export type NeuronOrientation = 'rows' | 'columns';

const ORIENTATION: Record<Role, NeuronOrientation> = { attn_in: 'columns', attn_out: 'rows', ff_in: 'columns', ff_out: 'rows' };

export interface NeuronRequest {
  layer: number;
  role: Role;
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
  /** In memory only: the JSON report (schema 1) names the module by `module` alone. */
  readonly role: Role;
  /** The checkpoint's name of the module (Family.modules). */
  readonly module: string;
  readonly orientation: NeuronOrientation;
  readonly spannedBy: 'x' | 'delta';
  /** Number of neurons (rows or columns of X^T Delta); each is d-dimensional. */
  readonly neuronCount: number;
  readonly settings: { readonly k: number; readonly normalized: boolean; readonly groupSize: number; readonly depth: number };
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

/** The spanning vector with the largest |cosine| (the first on ties), or -1 for a zero neuron. */
export function closestSpanning(cosine: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < cosine.length; i++) if (Math.abs(cosine[i]!) > (best < 0 ? 0 : Math.abs(cosine[best]!))) best = i;
  return best;
}

/** Parses `LAYER.MODULE`: a checkpoint's module name, a role (5.ff_out) or ff1/ff2 (5.ff2). */
export function parseNeuronSpec(spec: string, nLayer: number): { layer: number; role: Role } {
  const m = /^(\d+)\.(.+)$/.exec(spec.trim());
  const role = m ? roleNamed(m[2]!) : undefined;
  if (!m || !role) throw new BadInputError(`--neurons "${spec}": expected LAYER.MODULE with MODULE one of ${MODULE_NAMES} (e.g. 5.ff2)`);
  const layer = Number(m[1]);
  if (layer >= nLayer) throw new BadInputError(`--neurons "${spec}": layer ${layer} does not exist: this model has layers 0-${nLayer - 1}`);
  return { layer, role };
}

/** The per-neuron view of one module's gradient for one pair of a pass. */
export async function neuronView(pass: GradientPass, tokenizer: Tokenizer, req: NeuronRequest, opts: NeuronOptions): Promise<NeuronView> {
  const model = pass.model;
  if (!ROLES.includes(req.role) || !Number.isInteger(req.layer) || req.layer < 0 || req.layer >= model.config.nLayer) {
    const name = ROLES.includes(req.role) ? model.family.linearName(req.layer, req.role) : `layer ${req.layer}, ${req.role}`;
    throw new BadInputError(`${name}: no gradient in this pass; choose a layer 0-${model.config.nLayer - 1} and a module role of ${ROLES.join(', ')}`);
  }
  const V = model.config.vocabSize;
  if (!Number.isInteger(opts.k) || opts.k < 1 || opts.k > Math.min(MAX_K, V)) throw new BadInputError(`k = ${opts.k}: choose 1-${Math.min(MAX_K, V)} tokens per list`);
  // A block's logits [blockSize, V] go to the overlap kernels whole: at most one storage binding.
  const blockSize = Math.min(opts.blockSize ?? 128, Math.max(1, Math.floor(model.k.bindLimit / (V * 4))));
  const wantedGroup = opts.groupSize ?? 10;
  if (![blockSize, wantedGroup].every((x) => Number.isInteger(x) && x >= 1)) throw new RangeError(`block size ${blockSize} and group size ${wantedGroup} must be positive integers`);

  const orientation = ORIENTATION[req.role];
  const local = pass.factors(req.layer, req.role, req.pair);
  const span = await readSpan(model, local, orientation);
  const geometry = neuronGeometry(span);
  const groupSize = Math.max(1, Math.min(wantedGroup, Math.floor(span.count / 3)));
  const members = groupMembers(byNormDescending(geometry.norms), groupSize);
  const reps = members.flatMap((g) => g.indices);
  const settings = { k: opts.k, normalized: opts.normalized, groupSize, depth: Math.min(OVERLAP_DEPTH, V) };

  // Rows to project with k tokens: the representatives, the zero vector, the s_i.
  const lensRows = zeros(model.k, [reps.length + 1 + span.n, span.dim], 'f32', 'neurons.lens');
  try {
    const counts = await overlapCounts(model, local, orientation, span, settings, blockSize, (start, block) => copyRepresentatives(model, reps, start, block, lensRows));
    model.k.copy(spanningTensor(local, orientation).buffer, 0, lensRows.buffer, (reps.length + 1) * span.dim * 4, span.n * span.dim * 4);
    const lens = await logitLens(model, lensRows, { k: opts.k, normalized: opts.normalized }, []);
    return freeze(assemble({ ...req, module: model.family.modules[req.role] }, orientation, tokenizer, span, geometry, signFlip(counts, span.n, span.count), members, lens, settings));
  } finally {
    lensRows.dispose();
  }
}

function spanningTensor(f: LinearFactors, orientation: NeuronOrientation): Tensor {
  return orientation === 'rows' ? f.delta! : f.X;
}

/** One sequence's factors on the CPU: neuron j = sum_i C[i * count + j] S[i]. */
interface Span {
  n: number;
  dim: number;
  count: number;
  /** Spanning vectors s_i, [n, dim]. */
  S: Float32Array;
  /** Coefficients, [n, count]: X for rows, Delta for columns. */
  C: Float32Array;
}

async function readSpan(model: Model, f: LinearFactors, orientation: NeuronOrientation): Promise<Span> {
  const [x, delta] = (await readAll(model.k, [f.X, f.delta!])) as Float32Array[];
  return orientation === 'rows'
    ? { n: f.rows, dim: f.outDim, count: f.inDim, S: delta!, C: x! }
    : { n: f.rows, dim: f.inDim, count: f.outDim, S: x!, C: delta! };
}

interface Geometry {
  norms: Float64Array;
  spanNorms: Float64Array;
  /** [count, n] */
  cosine: Float64Array;
}

/**
 * With G = S S^T (n x n): g_j . s_i = (G c_j)_i and |g_j|^2 = c_j^T G c_j, so no
 * neuron is formed; O(n^2) per neuron, the same order as the rank's QR.
 */
function neuronGeometry({ n, dim, count, S, C }: Span): Geometry {
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let l = 0; l <= i; l++) {
      let dot = 0;
      for (let e = 0; e < dim; e++) dot += S[i * dim + e]! * S[l * dim + e]!;
      G[i * n + l] = G[l * n + i] = dot;
    }
  }
  const spanNorms = Float64Array.from({ length: n }, (_, i) => Math.sqrt(G[i * n + i]!));
  const norms = new Float64Array(count);
  const cosine = new Float64Array(count * n);
  const c = new Float64Array(n);
  const p = new Float64Array(n);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) c[i] = C[i * count + j]!;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let l = 0; l < n; l++) s += G[i * n + l]! * c[l]!;
      p[i] = s;
      sq += c[i]! * s;
    }
    const norm = Math.sqrt(Math.max(0, sq));
    norms[j] = norm;
    for (let i = 0; i < n; i++) cosine[j * n + i] = norm > 0 && spanNorms[i]! > 0 ? p[i]! / (norm * spanNorms[i]!) : 0;
  }
  return { norms, spanNorms, cosine };
}

function byNormDescending(norms: Float64Array): number[] {
  return Array.from(norms.keys()).sort((a, b) => norms[b]! - norms[a]! || a - b);
}

interface Members {
  name: NeuronGroupName;
  indices: number[];
}

/** Disjoint groups of `size` neurons at the top, around the median and at the bottom of the norm order. */
function groupMembers(order: number[], size: number): Members[] {
  const N = order.length;
  const mid = Math.max(0, Math.min(Math.max(size, Math.floor(N / 2) - Math.floor(size / 2)), N - 2 * size));
  return [
    { name: 'largest', indices: order.slice(0, size) },
    { name: 'median', indices: order.slice(mid, mid + size) },
    { name: 'smallest', indices: order.slice(N - size) },
  ];
}

/**
 * |top-depth(g_j) ∩ top-depth(r)| for every neuron j and reference vector r in
 * (s_1..s_n, -s_1..-s_n, 0): [count, 2n + 1]. Neurons are formed a block at a time
 * and every block is recorded before the one readback; `onBlock` may copy rows out
 * of a block before it is freed.
 */
async function overlapCounts(model: Model, f: LinearFactors, orientation: NeuronOrientation, span: Span, settings: LensSettings, blockSize: number, onBlock: (start: number, block: Tensor) => void): Promise<Int32Array> {
  const sets = referenceSets(model, span, settings, blockSize);
  const counts: Tensor[] = [];
  try {
    for (let start = 0; start < span.count; start += blockSize) {
      const block = orientation === 'rows' ? f.neuronRows(start, Math.min(blockSize, span.count - start)) : f.neuronColumns(start, Math.min(blockSize, span.count - start));
      onBlock(start, block);
      counts.push(recordOverlap(model, block, sets, settings));
      block.dispose();
    }
    return concat((await readAll(model.k, counts)) as Int32Array[]);
  } finally {
    sets.dispose();
    counts.forEach((t) => t.dispose());
  }
}

interface LensSettings {
  normalized: boolean;
  depth: number;
}

/** Top-depth ids of LL(s_i), LL(-s_i) and LL(0), as i32 [2n + 1, depth] on the GPU. */
function referenceSets(model: Model, { n, dim, S }: Span, settings: LensSettings, blockSize: number): Tensor {
  const rows = 2 * n + 1;
  const sets = zeros(model.k, [rows, settings.depth], 'i32', 'neurons.sets');
  for (let start = 0; start < rows; start += blockSize) {
    const count = Math.min(blockSize, rows - start);
    // Row r < n is s_r, n <= r < 2n is -s_(r-n), r = 2n is the zero vector.
    const data = Float32Array.from({ length: count * dim }, (_, e) => {
      const r = start + Math.floor(e / dim);
      return r < n ? S[r * dim + (e % dim)]! : r < 2 * n ? -S[(r - n) * dim + (e % dim)]! : 0;
    });
    const vectors = upload(model.k, [count, dim], data, 'f32', 'neurons.reference');
    const tape = new Tape(model.k);
    try {
      const ids = topkMembers(model.k, lensLogits(tape, model, vectors, settings.normalized), settings.depth);
      model.k.copy(ids.buffer, 0, sets.buffer, start * settings.depth * 4, count * settings.depth * 4);
      ids.dispose();
    } finally {
      tape.dispose();
      vectors.dispose();
      model.k.submit();
    }
  }
  return sets;
}

/** Records one block's overlap counts and submits, so that its logits can be freed. */
function recordOverlap(model: Model, block: Tensor, sets: Tensor, settings: LensSettings): Tensor {
  const tape = new Tape(model.k);
  try {
    return topkOverlap(model.k, lensLogits(tape, model, block, settings.normalized), settings.depth, sets);
  } finally {
    tape.dispose();
    model.k.submit();
  }
}

/** The logits of LL(v) = softmax(norm_final(v) D) (Eq. 7) for every row, owned by `tape`. */
function lensLogits(tape: Tape, model: Model, vectors: Tensor, normalized: boolean): Tensor {
  const input = normalized ? tape.own(normalizeRows(model.k, vectors)) : vectors;
  return model.logits(tape, model.finalNorm(tape, input));
}

function concat(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Copies the representatives that fall in this block to their rows of `dst`. */
function copyRepresentatives(model: Model, reps: readonly number[], start: number, block: Tensor, dst: Tensor): void {
  const d = block.cols;
  reps.forEach((j, r) => {
    if (j >= start && j < start + block.rows) model.k.copy(block.buffer, (j - start) * d * 4, dst.buffer, r * d * 4, d * 4);
  });
}

interface Overlap {
  /** [count, n], signed by the sign-flip rule. */
  signed: Int32Array;
  /** [count] */
  zero: Int32Array;
}

/**
 * Fig. 8a's score: the overlap of the neuron's top-100 with s_i's, unless -s_i's
 * overlaps more, then minus that. Flipping s_i rather than the neuron costs n extra
 * projections instead of one per neuron.
 */
function signFlip(counts: Int32Array, n: number, count: number): Overlap {
  const sets = 2 * n + 1;
  const signed = new Int32Array(count * n);
  const zero = new Int32Array(count);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) {
      const plus = counts[j * sets + i]!;
      const minus = counts[j * sets + n + i]!;
      signed[j * n + i] = minus > plus ? -minus : plus;
    }
    zero[j] = counts[j * sets + 2 * n]!;
  }
  return { signed, zero };
}

function stats(indices: readonly number[], n: number, overlap: Overlap, cosine: Float64Array): NeuronStats {
  const mean = (f: (j: number) => number) => (indices.length ? indices.reduce((s, j) => s + f(j), 0) / indices.length : 0);
  const perSpan = (f: (j: number, i: number) => number) => Array.from({ length: n }, (_, i) => mean((j) => f(j, i)));
  const closest = new Array<number>(n).fill(0);
  for (const j of indices) {
    const best = closestSpanning(cosine.subarray(j * n, (j + 1) * n));
    if (best >= 0) closest[best]!++;
  }
  return {
    count: indices.length,
    meanIntersection: perSpan((j, i) => overlap.signed[j * n + i]!),
    meanAbsIntersection: perSpan((j, i) => Math.abs(overlap.signed[j * n + i]!)),
    meanCosine: perSpan((j, i) => cosine[j * n + i]!),
    meanAbsCosine: perSpan((j, i) => Math.abs(cosine[j * n + i]!)),
    meanZeroIntersection: mean((j) => overlap.zero[j]!),
    closest,
  };
}

function assemble(req: NeuronRequest & { module: string }, orientation: NeuronOrientation, tokenizer: Tokenizer, span: Span, geometry: Geometry, overlap: Overlap, members: Members[], lens: Projection[], settings: NeuronView['settings']): NeuronView {
  const { n, count } = span;
  const toLens = (p: Projection): Lens => {
    const tok = (ip: { id: number; prob: number }): TokenProb => ({ id: ip.id, text: tokenizer.tokenText(ip.id), prob: ip.prob });
    return { top: p.top.map(tok), bottom: p.bottom.map(tok) };
  };
  const row = <T extends ArrayLike<number>>(a: T, j: number) => Array.from({ length: n }, (_, i) => a[j * n + i]!);
  let r = 0;
  const groups = members.map(({ name, indices }) => ({
    name,
    neurons: indices.map((j) => ({
      index: j,
      norm: geometry.norms[j]!,
      ...toLens(lens[r++]!),
      intersection: row(overlap.signed, j),
      zeroIntersection: overlap.zero[j]!,
      cosine: row(geometry.cosine, j),
    })),
    stats: stats(indices, n, overlap, geometry.cosine),
  }));
  const all = Array.from({ length: count }, (_, j) => j);
  return {
    layer: req.layer,
    role: req.role,
    module: req.module,
    orientation,
    spannedBy: orientation === 'rows' ? 'delta' : 'x',
    neuronCount: count,
    settings,
    spanning: Array.from({ length: n }, (_, i) => ({ position: i, norm: geometry.spanNorms[i]!, ...toLens(lens[r + 1 + i]!) })),
    zero: toLens(lens[r]!),
    norms: Array.from(geometry.norms),
    intersection: all.map((j) => row(overlap.signed, j)),
    zeroIntersection: Array.from(overlap.zero),
    cosine: all.map((j) => row(geometry.cosine, j)),
    groups,
    all: stats(all, n, overlap, geometry.cosine),
  };
}

function freeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) freeze(v);
  }
  return o;
}
