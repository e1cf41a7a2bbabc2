// One batched forward and backward pass over prompt/target pairs, owned by one
// disposable object. analyze, the neuron view, the factor export and the edits all
// read it: per pair, layer and module, the gradient factors sliced to that pair's
// rows, plus the logits and the loss at its target positions.
import { LinearFactors } from '../autograd/factors.ts';
import { Tape } from '../autograd/tape.ts';
import { readAll, zeros } from '../gpu/buffers.ts';
import type { Role } from '../model/config.ts';
import type { ForwardResult, Model, Hook, Target } from '../model/model.ts';
import type { Tensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { BadInputError } from '../errors.ts';
import { preparePair, type PreparedPair, type TargetTokens } from './prepare.ts';

export interface PromptTarget {
  prompt: string;
  target: string;
}

export interface PassOptions {
  targetTokens?: TargetTokens;
  /**
   * `sum` (default): the loss is the summed NLL of every target token of every pair,
   * as the analysis defines it. `mean`: the mean over pairs of each pair's mean
   * token NLL, as MEMIT's fine-tuning baseline defines it.
   */
  loss?: 'sum' | 'mean';
  /** Sees (and may replace) activations during the forward pass; they are freed once the backward pass is recorded. */
  hook?: Hook;
}

/** What the pass read back about one pair's first target position. */
export interface PairOutputs {
  /** Next-token logits after the prompt, [vocab]. */
  logits: Float32Array;
  /** log-sum-exp of `logits`: probabilities are exp(logit - lse). */
  lse: number;
  /** This pair's share of the loss (summed NLL of its target tokens). */
  loss: number;
}

export class GradientPass {
  private readonly sliced = new Map<string, LinearFactors>();
  private outputs: Promise<PairOutputs[]> | undefined;

  private constructor(
    readonly model: Model,
    private readonly tape: Tape,
    readonly pairs: readonly PreparedPair[],
    /** Every loss position of the batch, in the order of the logits rows. */
    readonly targets: readonly Target[],
    readonly out: ForwardResult,
  ) {}

  /** Tokenizes the pairs, then runs the forward and the backward pass (recorded, not awaited). */
  static run(model: Model, tokenizer: Tokenizer, pairs: readonly PromptTarget[], opts: PassOptions = {}): GradientPass {
    if (pairs.length === 0) throw new BadInputError('no prompt/target pairs to run');
    return GradientPass.fromPrepared(model, pairs.map((p) => preparePair(model, tokenizer, p.prompt, p.target, opts.targetTokens ?? 'first')), opts);
  }

  static fromPrepared(model: Model, prepared: readonly PreparedPair[], opts: PassOptions = {}): GradientPass {
    const tape = new Tape(model.k, { grad: true });
    try {
      const targets = prepared.flatMap((p, seq) => p.targets.map((t) => ({ ...t, seq })));
      const out = model.forward(tape, prepared.map((p) => p.ids), targets, opts.hook);
      const seed = opts.loss === 'mean' ? meanSeed(tape, prepared, targets) : undefined;
      tape.backward(out.loss, seed);
      // Its readers read only the factors and the outputs: the activations and gradients
      // between them go now, not when the pass is disposed (on SwiftShader the analysis
      // then reuses their memory: its lens ran ~13 MiB lower at gpt2-medium).
      for (const t of [out.logits, out.lse, out.loss]) tape.keep(t);
      tape.dispose();
      return new GradientPass(model, tape, prepared, targets, out);
    } catch (e) {
      tape.dispose();
      throw e;
    }
  }

  /** Padded length: pair p's rows in any activation are p*T .. p*T + rows(p) - 1. */
  get T(): number {
    return this.out.T;
  }

  /** Rows of pair p that receive gradient: its prompt, plus teacher-forced target tokens. */
  rows(pair: number): number {
    return this.pair(pair).ids.length;
  }

  /** The factors of the whole batch (padding rows hold delta = 0): a batched edit applies these. */
  batchFactors(layer: number, role: Role): LinearFactors {
    const name = this.model.family.linearName(layer, role);
    const f = this.tape.factors.get(name);
    if (!f?.delta) throw new BadInputError(`${name}: no gradient in this pass; choose a layer 0-${this.model.config.nLayer - 1}`);
    return f;
  }

  /** Pair p's own rows of X and Delta; owned by the pass. */
  factors(layer: number, role: Role, pair: number): LinearFactors {
    const f = this.batchFactors(layer, role);
    const n = this.rows(pair);
    if (this.pairs.length === 1 && n === f.rows) return f;
    const key = `${f.name}#${pair}`;
    let s = this.sliced.get(key);
    if (!s) {
      const slice = (t: Tensor, what: string) => {
        const out = zeros(this.model.k, [n, t.cols], 'f32', `${f.name}.${what}#${pair}`);
        this.model.k.copy(t.buffer, pair * this.T * t.cols * 4, out.buffer, 0, n * t.cols * 4);
        return out;
      };
      s = new LinearFactors(this.model.k, f.name, slice(f.X, 'x'), slice(f.delta!, 'delta'), f.layout);
      this.sliced.set(key, s);
    }
    return s;
  }

  /** Logits, log-sum-exp and loss of every pair, read back once. */
  readOutputs(): Promise<PairOutputs[]> {
    this.outputs ??= (async () => {
      const [logits, lse, loss] = (await readAll(this.model.k, [this.out.logits, this.out.lse, this.out.loss])) as Float32Array[];
      const V = this.model.config.vocabSize;
      return this.pairs.map((_, seq) => {
        const row = this.targets.findIndex((t) => t.seq === seq);
        const pairLoss = this.targets.reduce((s, t, r) => s + (t.seq === seq ? loss![r]! : 0), 0);
        return { logits: logits!.slice(row * V, (row + 1) * V), lse: lse![row]!, loss: pairLoss };
      });
    })();
    return this.outputs;
  }

  private pair(p: number): PreparedPair {
    const pair = this.pairs[p];
    if (!pair) throw new RangeError(`pair ${p} outside 0..${this.pairs.length - 1}`);
    return pair;
  }

  dispose(): void {
    for (const f of this.sliced.values()) f.tensors().forEach((t) => t.dispose());
    this.sliced.clear();
    for (const f of this.tape.factors.values()) f.tensors().forEach((t) => t.dispose());
    for (const t of [this.out.logits, this.out.lse, this.out.loss]) t.dispose();
  }
}

/** d(loss)/d(NLL_r) for MEMIT's loss: 1 / (pairs x that pair's target tokens). */
function meanSeed(tape: Tape, prepared: readonly PreparedPair[], targets: readonly Target[]): Tensor {
  return tape.constant([targets.length], targets.map((t) => 1 / (prepared.length * prepared[t.seq]!.targets.length)));
}
