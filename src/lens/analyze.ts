// The Backward Lens of prompt/target pairs (paper §4-6): one batched forward and
// backward pass, then, per layer and linear module, from the factors alone: norms
// of x_i and delta_i, the exact gradient rank, and the logit lens of every
// d-dimensional spanning vector with the target's and the original answer's ranks.
import { Tape } from '../autograd/tape.ts';
import { rankOfProduct } from '../autograd/linalg.ts';
import { readAll, zeros } from '../gpu/buffers.ts';
import { LINEAR_MODULES, type LinearModule } from '../model/config.ts';
import type { ForwardResult, Gpt2 } from '../model/gpt2.ts';
import { rowNorms } from '../ops/rows.ts';
import type { Tensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer.ts';
import { logitLens, type IdProb, type Projection } from './logit-lens.ts';
import { BadInputError, preparePair, type PreparedPair, type TargetTokens } from './prepare.ts';
import type { Analysis, AnalysisSettings, ModuleView, Token, TokenProb, VectorView } from './types.ts';

export interface AnalyzeOptions {
  modules?: readonly LinearModule[];
  layers?: readonly number[];
  k?: number;
  normalized?: boolean;
  targetTokens?: TargetTokens;
  /**
   * Runs after the backward pass while the factors are alive (factor export, neuron
   * views): seq s's rows in any factor are s*T .. s*T + promptLength - 1.
   */
  withFactors?: (tape: Tape, out: ForwardResult, pairs: readonly PreparedPair[]) => Promise<void>;
}

export interface PromptTarget {
  prompt: string;
  target: string;
}

/** Milliseconds per stage, for benches (each stage ends with a GPU sync). */
export interface StageTimes {
  forward: number;
  backward: number;
  norms: number;
  ranks: number;
  projections: number;
}

const now = () => performance.now();

export function settingsFor(model: Gpt2, opts: AnalyzeOptions): AnalysisSettings {
  const layers = opts.layers ?? Array.from({ length: model.config.nLayer }, (_, l) => l);
  const bad = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= model.config.nLayer);
  if (bad !== undefined) throw new BadInputError(`layer ${bad} does not exist: this model has layers 0-${model.config.nLayer - 1}`);
  const modules = opts.modules ?? LINEAR_MODULES;
  const unknown = modules.find((m) => !LINEAR_MODULES.includes(m));
  if (unknown) throw new BadInputError(`unknown module "${unknown}": choose from ${LINEAR_MODULES.join(', ')}`);
  const k = opts.k ?? 5;
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new BadInputError(`k = ${k}: choose 1-100 tokens per list`);
  return { layers: [...layers], modules: [...modules], k, normalized: opts.normalized ?? false, targetTokens: opts.targetTokens ?? 'first' };
}

/** Analyses each pair; all pairs share one forward and one backward pass. */
export async function analyze(model: Gpt2, tokenizer: Tokenizer, pairs: readonly PromptTarget[], opts: AnalyzeOptions = {}, times?: StageTimes): Promise<Analysis[]> {
  if (pairs.length === 0) throw new BadInputError('no prompt/target pairs to analyse');
  const settings = settingsFor(model, opts);
  const prepared = pairs.map((p) => preparePair(model, tokenizer, p.prompt, p.target, settings.targetTokens));
  const k = model.k;
  const tape = new Tape(k, { grad: true });
  try {
    let t = now();
    const targets = prepared.flatMap((p, seq) => p.targets.map((tg) => ({ ...tg, seq })));
    const out = model.forward(tape, prepared.map((p) => p.ids), targets);
    await k.sync();
    if (times) times.forward += now() - t;
    t = now();
    tape.backward(out.loss);
    await k.sync();
    if (times) times.backward += now() - t;
    await opts.withFactors?.(tape, out, prepared);

    const [logits, lse, loss] = (await readAll(k, [out.logits, out.lse, out.loss])) as Float32Array[];
    const V = model.config.vocabSize;
    const firstRow = prepared.map((_, seq) => targets.findIndex((tg) => tg.seq === seq));
    const factors = collectFactors(tape, settings);

    t = now();
    const norms = await readAll(k, factors.flatMap((f) => [f.xNorms, f.deltaNorms]));
    factors.forEach((f) => [f.xNorms, f.deltaNorms].forEach((n) => n.dispose()));
    if (times) times.norms += now() - t;

    t = now();
    const data = (await readAll(k, factors.flatMap((f) => [f.X, f.delta]))) as Float32Array[];
    if (times) times.ranks += now() - t;

    const results: Analysis[] = [];
    for (let seq = 0; seq < prepared.length; seq++) {
      const p = prepared[seq]!;
      const row = firstRow[seq]!;
      const rowLogits = logits!.subarray(row * V, (row + 1) * V);
      const original = argmax(rowLogits);
      const probOf = (id: number) => Math.exp(rowLogits[id]! - lse![row]!);
      const watched = [p.targetIds[0]!, original];

      t = now();
      const ranks = factors.map((f, i) => rankOfProduct(rowsOf(data[2 * i]!, seq, out.T, p.promptLength, f.inDim), rowsOf(data[2 * i + 1]!, seq, out.T, p.promptLength, f.outDim), p.promptLength, f.inDim, f.outDim));
      if (times) times.ranks += now() - t;

      t = now();
      const projections = await projectSpanningVectors(model, factors, seq, out.T, p.promptLength, settings, watched);
      if (times) times.projections += now() - t;

      const tok = (id: number): Token => ({ id, text: tokenizer.tokenText(id) });
      const tokProb = (ip: IdProb): TokenProb => ({ ...tok(ip.id), prob: ip.prob });
      const view = (norms: ArrayLike<number>, proj: Projection[] | undefined, fromBottom: boolean): VectorView[] =>
        Array.from({ length: p.promptLength }, (_, i) => {
          const norm = norms[seq * out.T + i]!;
          const pr = proj?.[i];
          if (!pr) return { norm };
          const rankFor = (w: number) => (fromBottom ? pr.rankFromBottom[w]! : pr.rankFromTop[w]!);
          return { norm, top: pr.top.map(tokProb), bottom: pr.bottom.map(tokProb), targetRank: rankFor(0), originalRank: rankFor(1) };
        });

      const layers = settings.layers.map((layer) => ({
        layer,
        modules: settings.modules.map((module): ModuleView => {
          const i = factors.findIndex((f) => f.layer === layer && f.module === module);
          const f = factors[i]!;
          return {
            module,
            rank: ranks[i]!.rank,
            singularValues: Array.from(ranks[i]!.singularValues),
            x: view(norms[2 * i]!, projections.get(`${i}.x`), false),
            delta: view(norms[2 * i + 1]!, projections.get(`${i}.delta`), true),
            inDim: f.inDim,
            outDim: f.outDim,
          };
        }),
      }));

      const seqLoss = targets.reduce((s, tg, r) => s + (tg.seq === seq ? loss![r]! : 0), 0);
      results.push(deepFreeze({
        prompt: p.prompt,
        target: p.target,
        tokens: p.ids.slice(0, p.promptLength).map(tok),
        targetTokens: p.targetIds.map(tok),
        loss: seqLoss,
        targetProb: probOf(p.targetIds[0]!),
        original: { ...tok(original), prob: probOf(original) },
        settings,
        layers,
        memory: memoryOf(factors, p.promptLength),
      }));
    }
    return results;
  } finally {
    tape.dispose();
  }
}

interface FactorRef {
  layer: number;
  module: LinearModule;
  X: Tensor;
  delta: Tensor;
  inDim: number;
  outDim: number;
  xNorms: Tensor;
  deltaNorms: Tensor;
}

function collectFactors(tape: Tape, settings: AnalysisSettings): FactorRef[] {
  return settings.layers.flatMap((layer) =>
    settings.modules.map((module) => {
      const f = tape.factors.get(`h.${layer}.${module}`);
      if (!f?.delta) throw new Error(`h.${layer}.${module}: no gradient reached this layer`);
      return { layer, module, X: f.X, delta: f.delta, inDim: f.inDim, outDim: f.outDim, xNorms: rowNorms(tape.k, f.X), deltaNorms: rowNorms(tape.k, f.delta) };
    }),
  );
}

/** Sequence seq's n rows of a [B*T, width] factor read back from the GPU. */
function rowsOf(data: Float32Array, seq: number, T: number, n: number, width: number): Float32Array {
  return data.subarray(seq * T * width, (seq * T + n) * width);
}

/**
 * Gathers this sequence's d-dimensional x_i and delta_i rows of every selected factor
 * into one matrix and projects them all; keyed `${factorIndex}.x|delta`.
 */
async function projectSpanningVectors(model: Gpt2, factors: FactorRef[], seq: number, T: number, n: number, settings: AnalysisSettings, watched: number[]): Promise<Map<string, Projection[]>> {
  const d = model.config.nEmbd;
  const parts: { key: string; t: Tensor }[] = [];
  factors.forEach((f, i) => {
    if (f.inDim === d) parts.push({ key: `${i}.x`, t: f.X });
    if (f.outDim === d) parts.push({ key: `${i}.delta`, t: f.delta });
  });
  const out = new Map<string, Projection[]>();
  if (parts.length === 0) return out;
  const k = model.k;
  const all = zeros(k, [parts.length * n, d], 'f32', 'lens.vectors');
  try {
    parts.forEach(({ t }, j) => k.copy(t.buffer, seq * T * d * 4, all.buffer, j * n * d * 4, n * d * 4));
    const proj = await logitLens(model, all, { k: settings.k, normalized: settings.normalized }, watched);
    parts.forEach(({ key }, j) => out.set(key, proj.slice(j * n, (j + 1) * n)));
  } finally {
    all.dispose();
  }
  return out;
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

function memoryOf(factors: FactorRef[], n: number) {
  const factorBytes = factors.reduce((s, f) => s + 4 * n * (f.inDim + f.outDim), 0);
  const denseBytes = factors.reduce((s, f) => s + 4 * f.inDim * f.outDim, 0);
  return { factorBytes, denseBytes };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
