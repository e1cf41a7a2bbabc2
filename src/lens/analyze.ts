// The Backward Lens of prompt/target pairs (paper §4-6): one batched forward and
// backward pass, then, per layer and linear module, from the factors alone: norms
// of x_i and delta_i, the exact gradient rank, and the logit lens of every
// d-dimensional spanning vector with the target's and the original answer's ranks.
// Modules are the checkpoint's: a role the engine joins from several stored
// matrices (Llama's q/k/v) is reported as one module per matrix, each with the
// role's x_i and its own columns of the role's delta_i.
import { rankOfProduct } from '../autograd/linalg.ts';
import type { RankResult } from '../autograd/factors.ts';
import { withMapped } from '../gpu/buffers.ts';
import { blockModules, type BlockModule } from '../model/families/index.ts';
import { checkFiniteLogits } from '../model/finite.ts';
import type { Model } from '../model/model.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { columns, rowNorms } from '../gpu/rows.ts';
import type { Tensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { excludedSetting, logitLens, type IdProb, type LensRows, type Projection } from './logit-lens.ts';
import { GradientPass, type PromptTarget } from '../pass/pass.ts';
import { BadInputError } from '../errors.ts';
import { type TargetTokens } from '../pass/prepare.ts';
import type { Analysis, AnalysisSettings, ModuleView, Token, TokenProb, VectorView } from './types.ts';

export type { PromptTarget };

export interface AnalyzeOptions {
  /** Roles (ff_out), ff1/ff2 or the checkpoint's module names (self_attn.k_proj): families/index.ts blockModules; default all. */
  modules?: readonly string[];
  layers?: readonly number[];
  k?: number;
  normalized?: boolean;
  targetTokens?: TargetTokens;
}

/** Milliseconds per stage, for benches. */
export interface StageTimes {
  /** The forward and backward pass. */
  pass: number;
  /** Reading the norms and the factors back. */
  norms: number;
  /** The gradient ranks on the CPU, while the projections already run on the GPU. */
  ranks: number;
  /** What is left of the projections (the logit lens of every spanning vector) once the ranks are done. */
  projections: number;
}

const now = () => performance.now();

/** The settings an analysis reports, and its block modules in the same order. */
export function settingsFor(model: Model, opts: AnalyzeOptions): AnalysisSettings & { selected: readonly BlockModule[] } {
  const layers = opts.layers ?? Array.from({ length: model.config.nLayer }, (_, l) => l);
  const bad = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= model.config.nLayer);
  if (bad !== undefined) throw new BadInputError(`layer ${bad} does not exist: this model has layers 0-${model.config.nLayer - 1}`);
  const selected = blockModules(model.config, opts.modules);
  const k = opts.k ?? 5;
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new BadInputError(`k = ${k}: choose 1-100 tokens per list`);
  return { selected, layers: [...layers], modules: selected.map((m) => m.name), k, normalized: opts.normalized ?? false, targetTokens: opts.targetTokens ?? 'first' };
}

/** Analyses each pair; all pairs share one forward and one backward pass. */
export async function analyze(model: Model, tokenizer: Tokenizer, pairs: readonly PromptTarget[], opts: AnalyzeOptions = {}, times?: StageTimes): Promise<Analysis[]> {
  const settings = settingsFor(model, opts);
  const t = now();
  const pass = GradientPass.run(model, tokenizer, pairs, { targetTokens: settings.targetTokens });
  try {
    await model.k.sync();
    if (times) times.pass += now() - t;
    return await analyzePass(pass, tokenizer, opts, times);
  } finally {
    pass.dispose();
  }
}

/** The analysis of a pass that already ran; the caller keeps it (and disposes it). */
export async function analyzePass(pass: GradientPass, tokenizer: Tokenizer, opts: AnalyzeOptions = {}, times?: StageTimes): Promise<Analysis[]> {
  const model = pass.model;
  const { selected, ...chosen } = settingsFor(model, opts);
  const excluded = tokenizer.lensExcluded;
  const settings: AnalysisSettings = { ...chosen, ...excludedSetting(excluded) };
  const skipped = new Set(excluded.ids);
  const k = model.k;
  const outputs = await pass.readOutputs();
  const results: Analysis[] = [];
  for (let seq = 0; seq < pass.pairs.length; seq++) {
    const p = pass.pairs[seq]!;
    // Every row that receives gradient: the prompt, and teacher-forced target tokens.
    const n = pass.rows(seq);
    const { logits: rowLogits, lse, loss } = outputs[seq]!;
    checkFiniteLogits(rowLogits, `"${p.prompt}"`);
    // The best id the lens ranks: a special token (EOS) or a padded row is never the original answer.
    const original = argmax(rowLogits, skipped);
    const probOf = (id: number) => Math.exp(rowLogits[id]! - lse);
    const watched = [p.targetIds[0]!, original];
    const factors = collectFactors(pass, seq, settings.layers, selected);
    let norms: NormsRead['norms'];
    let ranks: RankResult[];
    let projections: Map<string, Projection[]>;
    try {
      const read = await readNorms(k, factors, n, model.config.nEmbd, times);
      norms = read.norms;
      // The projections run on the GPU while the CPU works out the ranks, reading the
      // factors back a second time: holding them from the first read would keep every
      // layer's factors in memory at once. The ranks' first read is queued before the
      // lens's passes: a queue runs in order, and behind them it waited for the whole lens.
      let t = now();
      const ranking = factorRanks(k, factors, n);
      const projecting = projectSpanningVectors(model, factors, n, settings, watched, excluded.ids, read.zeroRows);
      try {
        ranks = await ranking;
      } catch (e) {
        await projecting.catch(() => undefined); // settled before the error leaves, so it is not left unhandled
        throw e;
      }
      if (times) times.ranks += now() - t;
      t = now();
      projections = await projecting;
      if (times) times.projections += now() - t;
    } finally {
      for (const f of factors) if (!f.module.whole) f.delta.dispose();
    }

    const tok = (id: number): Token => ({ id, text: tokenizer.tokenText(id) });
    const tokProb = (ip: IdProb): TokenProb => ({ ...tok(ip.id), prob: ip.prob });
    const view = (norms: ArrayLike<number>, proj: Projection[] | undefined, fromBottom: boolean): VectorView[] =>
      Array.from({ length: n }, (_, i) => {
        const norm = norms[i]!;
        const pr = proj?.[i];
        if (!pr) return { norm };
        const rankFor = (w: number) => (fromBottom ? pr.rankFromBottom[w]! : pr.rankFromTop[w]!);
        return { norm, top: pr.top.map(tokProb), bottom: pr.bottom.map(tokProb), targetRank: rankFor(0), originalRank: rankFor(1) };
      });

    const layers = settings.layers.map((layer) => ({
      layer,
      modules: selected.map((module): ModuleView => {
        const i = factors.findIndex((f) => f.layer === layer && f.module === module);
        const f = factors[i]!;
        return {
          module: module.name,
          rank: ranks[i]!.rank,
          // JSON has no Infinity: a dropped value of exactly 0 is the widest margin there is.
          rankMargin: ranks[i]!.margin === Infinity ? Number.MAX_VALUE : ranks[i]!.margin,
          rankAmbiguous: ranks[i]!.ambiguous,
          singularValues: Array.from(ranks[i]!.singularValues),
          x: view(norms[i]!.x, projections.get(`${i}.x`), false),
          delta: view(norms[i]!.delta, projections.get(`${i}.delta`), true),
          inDim: f.inDim,
          outDim: f.outDim,
        };
      }),
    }));

    results.push(deepFreeze({
      prompt: p.prompt,
      target: p.target,
      tokens: p.ids.slice(0, p.promptLength).map(tok),
      forced: p.ids.slice(p.promptLength).map(tok),
      targetTokens: p.targetIds.map(tok),
      loss,
      targetProb: probOf(p.targetIds[0]!),
      original: { ...tok(original), prob: probOf(original) },
      settings,
      layers,
      memory: memoryOf(factors, n),
      warnings: p.warnings,
    }));
  }
  return results;
}

interface FactorRef {
  layer: number;
  module: BlockModule;
  X: Tensor;
  /** The module's columns of the role's delta: the role's own tensor for a whole module, else a copy this analysis disposes. */
  delta: Tensor;
  inDim: number;
  outDim: number;
  xNorms: Tensor;
  deltaNorms: Tensor;
}

/** This pair's factors of every selected layer and module, with their row norms queued. */
function collectFactors(pass: GradientPass, pair: number, layers: readonly number[], modules: readonly BlockModule[]): FactorRef[] {
  const k = pass.model.k;
  // The stored parts of a joined role (q/k/v, gate/up) share the role's X and so its norms.
  const xNormsOf = new Map<Tensor, Tensor>();
  return layers.flatMap((layer) =>
    modules.map((module) => {
      const f = pass.factors(layer, module.role, pair);
      const delta = module.whole ? f.delta! : columns(k, f.delta!, module.from, module.width, `${f.name}.${module.name}.delta`);
      const xNorms = xNormsOf.get(f.X) ?? rowNorms(k, f.X);
      xNormsOf.set(f.X, xNorms);
      return { layer, module, X: f.X, delta, inDim: f.inDim, outDim: module.width, xNorms, deltaNorms: rowNorms(k, delta) };
    }),
  );
}

/**
 * Bytes of factors read back at once: one chunk is mapped only until its ranks are
 * done, so the analysis's memory does not grow with the number of layers (gpt2-xl's
 * factors are 79 MB at 16 tokens). Each chunk's staging buffer is device memory of
 * its own (Dawn never sub-allocates a mappable buffer), made while the lens holds its
 * buffers: 1 MiB instead of 4 took 3 MiB off the peak of an analysis of gpt2-small on
 * lavapipe, and at 128 tokens cost no time (bench/RESULTS.md, issue 28, 9). Tests
 * lower it to read in many chunks.
 */
export const factorReads = { bytes: 1 << 20 };

/** Maps the given tensors of each factor, a chunk of factors at a time, and hands `each` that factor's views (valid until it returns). */
async function eachFactorRead(k: Kernels, factors: FactorRef[], n: number, tensors: (f: FactorRef) => Tensor[], each: (read: Float32Array[], f: FactorRef) => void | Promise<void>, times?: StageTimes): Promise<void> {
  for (let from = 0; from < factors.length; ) {
    let to = from;
    for (let bytes = 0; to < factors.length && (to === from || bytes + factorBytes(factors[to]!, n) <= factorReads.bytes); to++) bytes += factorBytes(factors[to]!, n);
    const chunk = factors.slice(from, to);
    // A tensor several factors share (a joined role's X) comes back once.
    const unique = [...new Set(chunk.flatMap(tensors))];
    const t = now();
    await withMapped(k, unique, async (read) => {
      if (times) times.norms += now() - t;
      const viewOf = new Map(unique.map((tensor, i) => [tensor, read[i]!]));
      for (const f of chunk) await each(tensors(f).map((tensor) => viewOf.get(tensor)!), f);
    });
    from = to;
  }
}

/** What the projections need of the factors: each one's row norms and, per d-dimensional (projected) side, whether each row is exactly zero. */
interface NormsRead {
  norms: { x: Float32Array; delta: Float32Array }[];
  zeroRows: { x?: boolean[]; delta?: boolean[] }[];
}

async function readNorms(k: Kernels, factors: FactorRef[], n: number, d: number, times?: StageTimes): Promise<NormsRead> {
  const out: NormsRead = { norms: [], zeroRows: [] };
  try {
    // Only the d-wide sides are projected, so only they need their zero rows: the others stay on the device.
    const sides = (f: FactorRef) => [...(f.inDim === d ? [f.X] : []), ...(f.outDim === d ? [f.delta] : [])];
    await eachFactorRead(k, factors, n, (f) => [f.xNorms, f.deltaNorms, ...sides(f)], ([xNorms, deltaNorms, ...read], f) => {
      out.norms.push({ x: xNorms!.slice(), delta: deltaNorms!.slice() });
      const zeroFlags = (data: Float32Array) => Array.from({ length: n }, (_, row) => isZeroRow(data, row, d));
      const [x, delta] = f.inDim === d ? read : [undefined, read[0]];
      out.zeroRows.push({ ...(x ? { x: zeroFlags(x) } : {}), ...(delta ? { delta: zeroFlags(delta) } : {}) });
    }, times);
  } finally {
    new Set(factors.flatMap((f) => [f.xNorms, f.deltaNorms])).forEach((t) => t.dispose());
  }
  return out;
}

/**
 * Longest the ranks keep the thread before handing it back, so the lens can take its
 * results and queue its next pass. Not after every factor: a browser stretches each
 * timeout after the first few to 4 ms, and a 16-token rank takes less than that.
 */
const RANKS_SLICE_MS = 20;

/** Each factor's exact gradient rank, handing the thread back now and then so the lens keeps the GPU queue fed meanwhile. */
async function factorRanks(k: Kernels, factors: FactorRef[], n: number): Promise<RankResult[]> {
  const ranks: RankResult[] = [];
  let since = now();
  await eachFactorRead(k, factors, n, (f) => [f.X, f.delta], async ([X, delta], f) => {
    ranks.push(rankOfProduct(X!.subarray(0, n * f.inDim), delta!.subarray(0, n * f.outDim), n, f.inDim, f.outDim));
    if (now() - since < RANKS_SLICE_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    since = now();
  });
  return ranks;
}

const factorBytes = (f: FactorRef, n: number) => 4 * n * (f.inDim + f.outDim);

/**
 * Projects the pair's d-dimensional x_i and delta_i rows of every selected factor
 * in one lens call, each pass gathering its rows from the factors; keyed `${factorIndex}.x|delta`.
 * Rows that are exactly zero (the last layer's delta_i, i < n) all project alike,
 * so only the first is projected and the others reuse it.
 */
async function projectSpanningVectors(model: Model, factors: FactorRef[], n: number, settings: AnalysisSettings, watched: number[], excluded: readonly number[], zeroRows: NormsRead['zeroRows']): Promise<Map<string, Projection[]>> {
  const d = model.config.nEmbd;
  const parts: { key: string; t: Tensor; zero: boolean[] }[] = [];
  // The stored parts of a joined role (q/k/v, gate/up) share the role's x_i: projected once.
  const firstOfX = new Map<Tensor, string>();
  const sameX: [string, string][] = [];
  factors.forEach((f, i) => {
    const z = zeroRows[i]!;
    const first = firstOfX.get(f.X);
    if (z.x && first !== undefined) sameX.push([`${i}.x`, first]);
    else if (z.x) {
      firstOfX.set(f.X, `${i}.x`);
      parts.push({ key: `${i}.x`, t: f.X, zero: z.x });
    }
    if (z.delta) parts.push({ key: `${i}.delta`, t: f.delta, zero: z.delta });
  });
  const out = new Map<string, Projection[]>();
  if (parts.length === 0) return out;
  const kept: { part: number; row: number }[] = [];
  let zeroAt = -1;
  const source = parts.map(({ zero: zeroRow }, j) =>
    Array.from({ length: n }, (_, row) => {
      const zero = zeroRow[row]!;
      if (zero && zeroAt >= 0) return zeroAt;
      kept.push({ part: j, row });
      if (zero) zeroAt = kept.length - 1;
      return kept.length - 1;
    }),
  );
  const k = model.k;
  const rows: LensRows = {
    rows: kept.length,
    // One copy per run of consecutive rows of one factor.
    copy(into, start, count) {
      for (let r = start; r < start + count; ) {
        const { part, row } = kept[r]!;
        let len = 1;
        while (r + len < start + count && kept[r + len]!.part === part && kept[r + len]!.row === row + len) len++;
        k.copy(parts[part]!.t.buffer, row * d * 4, into.buffer, (r - start) * d * 4, len * d * 4);
        r += len;
      }
    },
  };
  const proj = await logitLens(model, rows, { k: settings.k, normalized: settings.normalized, excluded }, watched);
  parts.forEach(({ key }, j) => out.set(key, source[j]!.map((i) => proj[i]!)));
  for (const [key, first] of sameX) out.set(key, out.get(first)!);
  return out;
}

function isZeroRow(data: ArrayLike<number>, row: number, d: number): boolean {
  for (let j = row * d; j < (row + 1) * d; j++) if (data[j] !== 0) return false;
  return true;
}

function argmax(v: ArrayLike<number>, skipped: ReadonlySet<number>): number {
  let best = -1;
  for (let i = 0; i < v.length; i++) if (!skipped.has(i) && (best < 0 || v[i]! > v[best]!)) best = i;
  return best;
}

/** The parts of a role share its X, so it counts once. */
function memoryOf(factors: FactorRef[], n: number) {
  const denseBytes = factors.reduce((s, f) => s + 4 * f.inDim * f.outDim, 0);
  const xBytes = [...new Map(factors.map((f) => [f.X, f.inDim])).values()].reduce((s, inDim) => s + 4 * n * inDim, 0);
  return { factorBytes: xBytes + factors.reduce((s, f) => s + 4 * n * f.outDim, 0), denseBytes };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
