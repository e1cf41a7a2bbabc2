// The GPU side of the neuron view (types.ts): the GPU forms the neurons a block at a
// time from the factors, projects them, and returns for each neuron only how many of
// its top-100 tokens each spanning vector shares; geometry.ts does the rest in
// float64 on the CPU.
import { LinearFactors } from '../../autograd/factors.ts';
import { Tape } from '../../autograd/tape.ts';
import { readAll, upload, zeros } from '../../gpu/buffers.ts';
import { skipIds, topkMembers, topkOverlap } from '../../gpu/overlap.ts';
import { columns, normalizeRows } from '../../gpu/rows.ts';
import { MAX_K } from '../../gpu/vocab.ts';
import { ROLES, type Role } from '../../model/config.ts';
import { blockModules } from '../../model/families/index.ts';
import type { Model } from '../../model/model.ts';
import type { GradientPass } from '../../pass/pass.ts';
import { BadInputError } from '../../errors.ts';
import type { Tensor } from '../../tensor.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { excludedSetting, logitLens, type Projection } from '../logit-lens.ts';
import type { TokenProb } from '../types.ts';
import { byNormDescending, groupMembers, neuronGeometry, signFlip, stats, type Geometry, type Members, type Overlap, type Span } from './geometry.ts';
import { OVERLAP_DEPTH, type Lens, type NeuronOptions, type NeuronOrientation, type NeuronRequest, type NeuronView } from './types.ts';

const ORIENTATION: Record<Role, NeuronOrientation> = { attn_in: 'columns', attn_out: 'rows', ff_in: 'columns', ff_out: 'rows' };

/** The per-neuron view of h.{layer}.{module}'s gradient for one pair of a pass. */
export async function neuronView(pass: GradientPass, tokenizer: Tokenizer, req: NeuronRequest, opts: NeuronOptions): Promise<NeuronView> {
  const model = pass.model;
  if (!ROLES.includes(req.role) || !Number.isInteger(req.layer) || req.layer < 0 || req.layer >= model.config.nLayer) {
    const name = ROLES.includes(req.role) ? model.family.linearName(req.layer, req.role) : `layer ${req.layer}, ${req.role}`;
    throw new BadInputError(`${name}: no gradient in this pass; choose a layer 0-${model.config.nLayer - 1} and a module role of ${ROLES.join(', ')}`);
  }
  // The lists and top-k sets hold only ids the lens does not leave out.
  const listed = model.config.vocabSize - tokenizer.lensExcluded.ids.length;
  if (!Number.isInteger(opts.k) || opts.k < 1 || opts.k > Math.min(MAX_K, listed)) throw new BadInputError(`k = ${opts.k}: choose 1-${Math.min(MAX_K, listed)} tokens per list`);

  const orientation = ORIENTATION[req.role];
  const joined = pass.factors(req.layer, req.role, req.pair);
  const parts = req.module === undefined ? [] : blockModules(model.config, [req.module]).filter((m) => m.role === req.role && !m.whole);
  // One stored part of a joined role has the role's x_i and its own columns of Δ; several, or none, are the role's matrix.
  const part = parts.length === 1 ? parts[0] : undefined;
  const local = part ? new LinearFactors(model.k, model.family.blockName(req.layer, part.name), joined.X, columns(model.k, joined.delta!, part.from, part.width), joined.layout) : joined;
  try {
    return await viewOf(model, tokenizer, { ...req, module: part?.name ?? model.family.modules[req.role] }, local, orientation, opts);
  } finally {
    if (part) local.delta!.dispose();
  }
}

async function viewOf(model: Model, tokenizer: Tokenizer, req: NeuronRequest & { module: string }, local: LinearFactors, orientation: NeuronOrientation, opts: NeuronOptions): Promise<NeuronView> {
  const V = model.config.vocabSize;
  const excluded = tokenizer.lensExcluded;
  const listed = V - excluded.ids.length;
  // A block's logits [blockSize, V] go to the overlap kernels whole: at most one storage binding.
  const blockSize = Math.min(opts.blockSize ?? 128, Math.max(1, Math.floor(model.k.bindLimit / (V * 4))));
  const wantedGroup = opts.groupSize ?? 10;
  if (![blockSize, wantedGroup].every((x) => Number.isInteger(x) && x >= 1)) throw new RangeError(`block size ${blockSize} and group size ${wantedGroup} must be positive integers`);
  const span = await readSpan(model, local, orientation);
  const geometry = neuronGeometry(span);
  const groupSize = Math.max(1, Math.min(wantedGroup, Math.floor(span.count / 3)));
  const members = groupMembers(byNormDescending(geometry.norms), groupSize);
  const reps = members.flatMap((g) => g.indices);
  const settings = { k: opts.k, normalized: opts.normalized, groupSize, depth: Math.min(OVERLAP_DEPTH, listed), ...excludedSetting(excluded) };

  // Rows to project with k tokens: the representatives, the zero vector, the s_i.
  const lensRows = zeros(model.k, [reps.length + 1 + span.n, span.dim], 'f32', 'neurons.lens');
  try {
    const counts = await overlapCounts(model, local, orientation, span, { ...settings, skipped: excluded.ids }, blockSize, (start, block) => copyRepresentatives(model, reps, start, block, lensRows));
    model.k.copy(spanningTensor(local, orientation).buffer, 0, lensRows.buffer, (reps.length + 1) * span.dim * 4, span.n * span.dim * 4);
    const lens = await logitLens(model, lensRows, { k: opts.k, normalized: opts.normalized, excluded: excluded.ids }, []);
    return freeze(assemble(req, orientation, tokenizer, span, geometry, signFlip(counts, span.n, span.count), members, lens, settings));
  } finally {
    lensRows.dispose();
  }
}

function spanningTensor(f: LinearFactors, orientation: NeuronOrientation): Tensor {
  return orientation === 'rows' ? f.delta! : f.X;
}

async function readSpan(model: Model, f: LinearFactors, orientation: NeuronOrientation): Promise<Span> {
  const [x, delta] = (await readAll(model.k, [f.X, f.delta!])) as Float32Array[];
  return orientation === 'rows'
    ? { n: f.rows, dim: f.outDim, count: f.inDim, S: delta!, C: x! }
    : { n: f.rows, dim: f.inDim, count: f.outDim, S: x!, C: delta! };
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
  /** Ids, ascending, that no top-depth set holds. */
  skipped: readonly number[];
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
      const ids = topkMembers(model.k, lensLogits(tape, model, vectors, settings), settings.depth);
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
    return topkOverlap(model.k, lensLogits(tape, model, block, settings), settings.depth, sets);
  } finally {
    tape.dispose();
    model.k.submit();
  }
}

/** The logits of LL(v) = softmax(norm_final(v) D) (Eq. 7) for every row, owned by `tape`; the lowest f32 for skipped ids. */
function lensLogits(tape: Tape, model: Model, vectors: Tensor, { normalized, skipped }: LensSettings): Tensor {
  const input = normalized ? tape.own(normalizeRows(model.k, vectors)) : vectors;
  const logits = model.logits(tape, model.finalNorm(tape, input));
  skipIds(model.k, logits, skipped);
  return logits;
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
