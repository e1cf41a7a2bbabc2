// Training a model from scratch on the engine (GPT-2 or Llama layout): next-token loss over every position,
// AdamW with decoupled weight decay on matrices, linear warm-up then cosine decay,
// global-norm gradient clipping. Deterministic given the seed: data order comes from
// a seeded PRNG and every kernel sums in a fixed order.
import { Tape } from '../autograd/tape.ts';
import { readAll, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { trainedShapes, type ModelConfig } from '../model/config.ts';
import { familyOf } from '../model/families/index.ts';
import { seededRandom } from '../model/sample.ts';
import { Model, type Target } from '../model/model.ts';
import { adamw } from '../gpu/adam.ts';
import { rowNorms } from '../gpu/rows.ts';
import type { Tensor } from '../tensor.ts';

export interface TrainHyper {
  lr: number;
  minLrRatio: number;
  warmupSteps: number;
  totalSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  clipNorm: number;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  lr: number;
  tokens: number;
}

/**
 * GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer),
 * norms 1/0, biases 0, an untied head N(0, 0.02) too; keyed by the checkpoint's tensor names, as Model.fromArrays takes them.
 */
export function initialParams(config: ModelConfig, seed: number): Record<string, Float32Array> {
  const family = familyOf(config);
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of trainedShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isWeight = name.endsWith('.weight');
    const stored = family.checkpointName(name);
    if (/norm\.weight$/.test(name)) out[stored] = new Float32Array(n).fill(1);
    else if (!isWeight) out[stored] = new Float32Array(n);
    else {
      const std = /(attn_out|ff_out)\.weight$/.test(name) ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02;
      out[stored] = Float32Array.from({ length: n }, () => std * gaussian());
    }
  }
  return out;
}

export function learningRate(h: TrainHyper, step: number): number {
  if (step < h.warmupSteps) return (h.lr * (step + 1)) / h.warmupSteps;
  const progress = Math.min(1, (step - h.warmupSteps) / Math.max(1, h.totalSteps - h.warmupSteps));
  return h.lr * (h.minLrRatio + (1 - h.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * Batches of sequence indices for one epoch: sorted by length so padding stays small,
 * cut into batches, and the batches shuffled by a PRNG seeded with (seed, epoch).
 */
export function epochBatches(lengths: readonly number[], batchSize: number, seed: number, epoch: number): number[][] {
  const random = seededRandom(seed * 1000003 + epoch);
  // Shuffle before the stable sort so equal lengths are mixed differently each epoch.
  const order = lengths.map((_, i) => i);
  shuffle(order, random);
  order.sort((a, b) => lengths[a]! - lengths[b]!);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  shuffle(batches, random);
  return batches;
}

function shuffle<T>(a: T[], random: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/** The model plus AdamW state; `step()` runs one batch. */
export class Trainer {
  readonly m: Map<string, Tensor>;
  readonly v: Map<string, Tensor>;

  constructor(
    readonly model: Model,
    readonly hyper: TrainHyper,
    /** Optimizer steps already taken (resume). */
    public steps = 0,
    state?: { m: Map<string, Tensor>; v: Map<string, Tensor> },
  ) {
    const k = model.k;
    this.m = state?.m ?? new Map([...model.params].map(([n, p]) => [n, zeros(k, p.shape, 'f32', `${n}.m`)]));
    this.v = state?.v ?? new Map([...model.params].map(([n, p]) => [n, zeros(k, p.shape, 'f32', `${n}.v`)]));
  }

  static fresh(k: Kernels, config: ModelConfig, seed: number, hyper: TrainHyper): Trainer {
    return new Trainer(Model.fromArrays(k, config, initialParams(config, seed)), hyper);
  }

  /** Mean next-token NLL over every position of the batch, one AdamW step. */
  async step(sequences: readonly (readonly number[])[]): Promise<StepResult> {
    const k = this.model.k;
    const targets: Target[] = sequences.flatMap((s, seq) => s.slice(1).map((token, i) => ({ seq, position: i, token })));
    const tape = new Tape(k, { grad: true, paramGrads: true });
    try {
      const out = this.model.forward(tape, sequences, targets);
      tape.backward(out.loss, tape.constant([targets.length], new Float32Array(targets.length).fill(1 / targets.length)));
      const names = [...this.model.params.keys()];
      const grads = names.map((n) => tape.gradOf(this.model.param(n)) ?? tape.zeros(this.model.param(n).shape));
      // Sum of squares from per-row norms (a 1-D tensor is one row): a small readback.
      const norms = grads.map((g) => tape.own(rowNorms(k, g)));
      const [loss, ...normData] = (await readAll(k, [out.loss, ...norms])) as Float32Array[];
      const gradNorm = Math.sqrt(normData.reduce((s, n) => s + n!.reduce((a, x) => a + x * x, 0), 0));
      const lr = learningRate(this.hyper, this.steps);
      const gradScale = gradNorm > this.hyper.clipNorm ? this.hyper.clipNorm / gradNorm : 1;
      this.steps++;
      names.forEach((n, i) => {
        const p = this.model.param(n);
        // Decay matrices and embeddings, not biases or layernorm gains (as GPT-2 trainers do).
        const wd = p.shape.length === 2 ? this.hyper.weightDecay : 0;
        const h = this.hyper;
        adamw(k, p, grads[i]!, this.m.get(n)!, this.v.get(n)!, { lr, beta1: h.beta1, beta2: h.beta2, eps: 1e-8, weightDecay: wd, step: this.steps, gradScale });
      });
      const meanLoss = loss!.reduce((a, b) => a + b, 0) / targets.length;
      return { loss: meanLoss, gradNorm, lr, tokens: targets.length };
    } finally {
      tape.dispose();
    }
  }
}
