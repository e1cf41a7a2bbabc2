// The value search shared by ROME (rome/compute_v.py) and MEMIT (memit/compute_z.py):
// a vector δ is added to one activation (ROME: the layer's FF2 output; MEMIT: the last
// edited layer's residual output) at the subject's last token of every prompt, and
// Adam moves δ to minimise
//   mean over prefixed prompts of the target's mean token NLL (teacher-forced)
//   + kl_factor · KL(p_now ‖ p_start) of the next-token distribution at the subject's
//     last token of "{subject} is a" (δ is added there too)
//   + v_weight_decay · ‖δ‖ / ‖v₀‖²   (v₀: the activation on the plain prompt),
// stopping once that is below 5e-2; after each step δ is scaled back into the ball
// ‖δ‖ ≤ clamp_norm_factor · ‖v₀‖. The value is v* = v₀ + δ.
// The forward and backward passes run on the engine, the hook adding δ; the loss and
// its gradient with respect to the few logits rows are computed in float64 here and
// fed into the backward pass as the logits' gradient.
import { Tape } from '../autograd/tape.ts';
import { readAll } from '../gpu/buffers.ts';
import { BadInputError } from '../lens/prepare.ts';
import { segmentPrompt } from '../lens/study/segments.ts';
import type { Gpt2, Hook } from '../model/gpt2.ts';
import { add } from '../ops/pointwise.ts';
import type { Tensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer.ts';

export interface ValueHparams {
  /** v_num_grad_steps */
  steps: number;
  /** v_lr (Adam) */
  lr: number;
  /** v_weight_decay */
  weightDecay: number;
  /** clamp_norm_factor */
  clampNormFactor: number;
  /** kl_factor */
  klFactor: number;
}

/** One fact to write: after `prompt` (which contains `subject`) the model should say `target` (with its leading space). */
export interface FactRequest {
  prompt: string;
  subject: string;
  target: string;
}

export interface ValueResult {
  /** v₀: the hooked activation at the subject's last token of the plain prompt (template 0). */
  init: Float64Array;
  delta: Float64Array;
  /** Loss before each step taken (and the last one measured). */
  losses: number[];
  /** Keys (FF2 input at `keyLayer`) at the subject's last token of each template's prompt, from the unedited first pass. */
  keys: Float64Array[];
}

/** The prompt's tokens and the index of the subject's last token in them. */
export function subjectLastToken(tokenizer: Tokenizer, text: string, subject: string): { ids: number[]; at: number } {
  const ids = tokenizer.encode(text);
  const seg = segmentPrompt(tokenizer, text, ids, subject);
  if (!seg) throw new BadInputError(`the subject ${JSON.stringify(subject)} does not occur in the prompt ${JSON.stringify(text)}; ROME and MEMIT need it there`);
  return { ids, at: seg.subject[1] };
}

const logSoftmax = (row: Float32Array): Float64Array => {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (x) => x - lse);
};

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

export interface ValueObjective {
  /** v₀, set by the first evaluate(). */
  init?: Float64Array;
  /** Keys at `keyLayer`, set by the first evaluate(). */
  keys: Float64Array[];
  /** The loss at δ and, with `withGrad`, its gradient (the first call must be at δ = 0: it fixes v₀ and p_start). */
  evaluate(delta: Float64Array, withGrad: boolean): Promise<{ loss: number; grad?: Float64Array }>;
}

/**
 * The value search's objective for `request` at hook point `hookName` over `prefixes`
 * (the first must be '', the plain prompt). With `keyLayer`, the first evaluation
 * also reads FF2's input at that layer at the lookup tokens.
 */
export function valueObjective(
  model: Gpt2, tokenizer: Tokenizer, request: FactRequest, prefixes: readonly string[], hookName: string, hp: ValueHparams, keyLayer?: number,
): ValueObjective {
  const k = model.k;
  const { nEmbd: d, nInner: f, nPositions } = model.config;
  if (prefixes[0] !== '') throw new RangeError('the first prefix must be the plain prompt');
  const targetIds = tokenizer.encode(request.target);
  if (targetIds.length === 0) throw new BadInputError('the target encodes to no tokens');
  const rewrite = prefixes.map((p) => subjectLastToken(tokenizer, p + request.prompt, request.subject));
  const kl = subjectLastToken(tokenizer, `${request.subject} is a`, request.subject);
  const seqs = [...rewrite.map((r) => [...r.ids, ...targetIds.slice(0, -1)]), kl.ids];
  const lookups = [...rewrite.map((r) => r.at), kl.at];
  const tooLong = seqs.findIndex((s) => s.length > nPositions);
  if (tooLong >= 0) throw new BadInputError(`the prompt with its context prefix and target takes ${seqs[tooLong]!.length} tokens; the model's context is ${nPositions}`);
  const nPrompts = rewrite.length;
  const nT = targetIds.length;
  // Logits rows: for each prompt its nT target positions, then the KL row.
  const targets = [
    ...rewrite.flatMap((r, seq) => targetIds.map((_, j) => ({ seq, position: r.ids.length - 1 + j }))),
    { seq: nPrompts, position: kl.at },
  ];
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length));
  const rowOf = (seq: number) => seq * T + lookups[seq]!;
  let klInit: Float64Array | undefined;

  const objective: ValueObjective = {
    keys: [],
    async evaluate(delta, withGrad) {
      const first = objective.init === undefined;
      const tape = new Tape(k, { grad: withGrad });
      try {
        const shift = new Float32Array(B * T * d);
        for (let seq = 0; seq < B; seq++) shift.set(Float32Array.from(delta), rowOf(seq) * d);
        const D = tape.constant([B * T, d], shift);
        let captured: Tensor | undefined;
        let keyRows: Tensor | undefined;
        const hook: Hook = (name, act, t) => {
          if (first && keyLayer !== undefined && name === `blocks.${keyLayer}.mlp.hook_post`) {
            keyRows = t.zeros([nPrompts, f], 'f32', 'rome.keys');
            for (let seq = 0; seq < nPrompts; seq++) k.copy(act.buffer, rowOf(seq) * f * 4, keyRows.buffer, seq * f * 4, f * 4);
          }
          if (name !== hookName) return;
          if (first) {
            captured = t.zeros([d], 'f32', 'rome.v0');
            k.copy(act.buffer, rowOf(0) * d * 4, captured.buffer, 0, d * 4);
          }
          return add(t, act, D);
        };
        const out = model.forward(tape, seqs, targets, hook);
        const reads = [out.logits, ...(captured ? [captured] : []), ...(keyRows ? [keyRows] : [])];
        const data = (await readAll(k, reads)) as Float32Array[];
        const V = out.logits.cols;
        const logits = data[0]!;
        if (first) {
          if (!captured) throw new RangeError(`no hook point ${hookName}`);
          objective.init = Float64Array.from(data[1]!);
          if (keyRows) objective.keys = Array.from({ length: nPrompts }, (_, i) => Float64Array.from(data[2]!.subarray(i * f, (i + 1) * f)));
        }
        const grad = new Float32Array(targets.length * V);
        let nll = 0;
        const w = 1 / (nT * nPrompts);
        for (let seq = 0; seq < nPrompts; seq++) {
          for (let j = 0; j < nT; j++) {
            const row = seq * nT + j;
            const lp = logSoftmax(logits.subarray(row * V, (row + 1) * V));
            nll += -lp[targetIds[j]!]! * w;
            for (let c = 0; c < V; c++) grad[row * V + c] = w * (Math.exp(lp[c]!) - (c === targetIds[j] ? 1 : 0));
          }
        }
        const klRow = targets.length - 1;
        const now = logSoftmax(logits.subarray(klRow * V, (klRow + 1) * V));
        klInit ??= now;
        let klDiv = 0;
        for (let c = 0; c < V; c++) klDiv += Math.exp(now[c]!) * (now[c]! - klInit[c]!);
        for (let c = 0; c < V; c++) grad[klRow * V + c] = hp.klFactor * Math.exp(now[c]!) * (now[c]! - klInit[c]! - klDiv);
        const initNorm = norm(objective.init!);
        const deltaNorm = norm(delta);
        const loss = nll + hp.klFactor * klDiv + hp.weightDecay * (deltaNorm / initNorm ** 2);
        if (!withGrad) return { loss };

        tape.accumulate(out.logits, tape.constant([targets.length, V], grad));
        tape.backward(out.loss, tape.constant(out.loss.shape, new Float32Array(out.loss.size)));
        const gD = tape.gradOf(D);
        if (!gD) throw new RangeError(`the loss does not depend on ${hookName}`);
        const [gd] = (await readAll(k, [gD])) as Float32Array[];
        const g = new Float64Array(d);
        for (let seq = 0; seq < B; seq++) for (let c = 0; c < d; c++) g[c] = g[c]! + gd![rowOf(seq) * d + c]!;
        if (deltaNorm > 0) for (let c = 0; c < d; c++) g[c] = g[c]! + (hp.weightDecay * delta[c]!) / (deltaNorm * initNorm ** 2);
        return { loss, grad: g };
      } finally {
        tape.dispose();
      }
    },
  };
  return objective;
}

/** Searches δ (Adam from zero, the clamp after each step); with `keyLayer`, also returns the keys of the unedited pass. */
export async function optimizeValue(
  model: Gpt2, tokenizer: Tokenizer, request: FactRequest, prefixes: readonly string[], hookName: string, hp: ValueHparams, keyLayer?: number,
): Promise<ValueResult> {
  const d = model.config.nEmbd;
  const objective = valueObjective(model, tokenizer, request, prefixes, hookName, hp, keyLayer);
  const delta = new Float64Array(d);
  const m = new Float64Array(d);
  const v = new Float64Array(d);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8]; // torch.optim.Adam's defaults, as ROME uses them
  const losses: number[] = [];
  for (let step = 0; step < hp.steps; step++) {
    const last = step === hp.steps - 1;
    const { loss, grad } = await objective.evaluate(delta, !last);
    losses.push(loss);
    if (loss < 5e-2 || last) break;
    const t = step + 1;
    for (let c = 0; c < d; c++) {
      m[c] = beta1 * m[c]! + (1 - beta1) * grad![c]!;
      v[c] = beta2 * v[c]! + (1 - beta2) * grad![c]! ** 2;
      const mHat = m[c]! / (1 - beta1 ** t);
      const vHat = v[c]! / (1 - beta2 ** t);
      delta[c] = delta[c]! - (hp.lr * mHat) / (Math.sqrt(vHat) + eps);
    }
    const maxNorm = hp.clampNormFactor * norm(objective.init!);
    const after = norm(delta);
    if (after > maxNorm) for (let c = 0; c < d; c++) delta[c] = (delta[c]! * maxNorm) / after;
  }
  return { init: objective.init!, delta, losses, keys: objective.keys };
}
