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
import { Tape } from '../../autograd/tape.ts';
import { readAll } from '../../gpu/buffers.ts';
import { BadInputError } from '../../errors.ts';
import { segmentPrompt } from '../../pass/segments.ts';
import type { Model, Hook } from '../../model/model.ts';
import { add } from '../../ops/pointwise.ts';
import type { Tensor } from '../../tensor.ts';
import { promptIds, type Tokenizer } from '../../tokenizer/tokenizer.ts';

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

/** The prompt's tokens as the model reads it (BOS first where the tokenizer adds one) and the index of the subject's last token in them. */
export function subjectLastToken(tokenizer: Tokenizer, text: string, subject: string): { ids: number[]; at: number } {
  const ids = promptIds(tokenizer, text);
  const seg = segmentPrompt(tokenizer, text, ids, subject);
  if (!seg) throw new BadInputError(`the subject ${JSON.stringify(subject)} does not occur in the prompt ${JSON.stringify(text)}; ROME and MEMIT need it there`);
  return { ids, at: seg.subject[1] };
}

/**
 * Refuses a located edit whose value search sits at the model's last layer while the
 * subject ends before the prompt does: the subject's hidden state reaches later
 * positions only through attention in the layers above it, so the search's loss has
 * no gradient and the edit would silently change nothing.
 */
export function checkEditReaches(tokenizer: Tokenizer, prompt: string, subject: string, layer: number, nLayer: number): void {
  const { ids, at } = subjectLastToken(tokenizer, prompt, subject);
  if (layer < nLayer - 1 || at === ids.length - 1) return;
  throw new BadInputError(`an edit whose value is written at layer ${layer}, the model's last, cannot change what follows ${JSON.stringify(prompt)}: the subject ends before the prompt does and no later layer carries it forward; pick a layer below ${layer}`);
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
  /** Per request, v₀: set by the first evaluate(). */
  init?: Float64Array[];
  /** Per request, the keys at `keyLayer` (one per prefix): set by the first evaluate(). */
  keys: Float64Array[][];
  /**
   * Per request, the loss at its δ and, with `withGrad`, its gradient (the first call
   * must be at δ = 0: it fixes v₀ and p_start). Requests are independent: request
   * i's rows see only δ_i, so one pass serves them all.
   */
  evaluate(deltas: readonly Float64Array[], withGrad: boolean): Promise<{ loss: number; grad?: Float64Array }[]>;
}

interface Layout {
  /** First sequence of the request in the batch; its prompts, then its KL prompt. */
  seq0: number;
  /** Logits row of its first target position; its KL row is seq0Row + nPrompts * nT. */
  row0: number;
  targetIds: number[];
}

/**
 * The value search's objective for `requests` at hook point `hookName` over `prefixes`
 * (the first must be '', the plain prompt). With `keyLayer`, the first evaluation
 * also reads FF2's input at that layer at the lookup tokens.
 */
export function valueObjective(
  model: Model, tokenizer: Tokenizer, requests: readonly FactRequest[], prefixes: readonly string[], hookName: string, hp: ValueHparams, keyLayer?: number,
): ValueObjective {
  const k = model.k;
  const { nEmbd: d, nInner: f, nPositions } = model.config;
  if (prefixes[0] !== '') throw new RangeError('the first prefix must be the plain prompt');
  const nPrompts = prefixes.length;
  const seqs: number[][] = [];
  const lookups: number[] = [];
  const targets: { seq: number; position: number }[] = [];
  const layout: Layout[] = requests.map((request) => {
    // As the edit's pair: the target's tokens as they follow the prompt (one ▁Paris after "plays for", not ▁ then Paris).
    const targetIds = tokenizer.targetParts(request.prompt, request.target).parts.flatMap((p) => p.ids);
    if (targetIds.length === 0) throw new BadInputError('the target encodes to no tokens');
    const seq0 = seqs.length;
    const row0 = targets.length;
    const rewrite = prefixes.map((p) => subjectLastToken(tokenizer, p + request.prompt, request.subject));
    const kl = subjectLastToken(tokenizer, `${request.subject} is a`, request.subject);
    rewrite.forEach((r, i) => {
      seqs.push([...r.ids, ...targetIds.slice(0, -1)]);
      lookups.push(r.at);
      targetIds.forEach((_, j) => targets.push({ seq: seq0 + i, position: r.ids.length - 1 + j }));
    });
    seqs.push(kl.ids);
    lookups.push(kl.at);
    targets.push({ seq: seq0 + nPrompts, position: kl.at });
    return { seq0, row0, targetIds };
  });
  const tooLong = seqs.find((s) => s.length > nPositions);
  if (tooLong) throw new BadInputError(`the prompt with its context prefix and target takes ${tooLong.length} tokens; the model's context is ${nPositions}`);
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length));
  const rowOf = (seq: number) => seq * T + lookups[seq]!;
  const klInit: Float64Array[] = [];

  const objective: ValueObjective = {
    keys: [],
    async evaluate(deltas, withGrad) {
      const first = objective.init === undefined;
      const tape = new Tape(k, { grad: withGrad });
      try {
        const shift = new Float32Array(B * T * d);
        layout.forEach((l, r) => {
          const delta = Float32Array.from(deltas[r]!);
          for (let seq = l.seq0; seq <= l.seq0 + nPrompts; seq++) shift.set(delta, rowOf(seq) * d);
        });
        const D = tape.constant([B * T, d], shift);
        let captured: Tensor | undefined;
        let keyRows: Tensor | undefined;
        let stopAt = 0;
        const hook: Hook = (name, act, t) => {
          if (first && keyLayer !== undefined && name === `blocks.${keyLayer}.mlp.hook_post`) {
            keyRows = t.zeros([B, f], 'f32', 'value.keys');
            for (let seq = 0; seq < B; seq++) k.copy(act.buffer, rowOf(seq) * f * 4, keyRows.buffer, seq * f * 4, f * 4);
          }
          if (name !== hookName) return;
          if (first) {
            captured = t.zeros([layout.length, d], 'f32', 'value.v0');
            layout.forEach((l, r) => k.copy(act.buffer, rowOf(l.seq0) * d * 4, captured!.buffer, r * d * 4, d * 4));
          }
          // δ enters here: the backward need not run the layers below.
          stopAt = t.mark();
          return add(t, act, D);
        };
        const out = model.forward(tape, seqs, targets, hook);
        const reads = [out.logits, ...(captured ? [captured] : []), ...(keyRows ? [keyRows] : [])];
        const data = (await readAll(k, reads)) as Float32Array[];
        const V = out.logits.cols;
        const logits = data[0]!;
        if (first) {
          if (!captured) throw new RangeError(`no hook point ${hookName}`);
          objective.init = layout.map((_, r) => Float64Array.from(data[1]!.subarray(r * d, (r + 1) * d)));
          if (keyRows) objective.keys = layout.map((l) => Array.from({ length: nPrompts }, (_, i) => Float64Array.from(data[2]!.subarray((l.seq0 + i) * f, (l.seq0 + i + 1) * f))));
        }
        const grad = withGrad ? new Float32Array(targets.length * V) : undefined;
        const losses = layout.map((l, r) => {
          const nT = l.targetIds.length;
          const w = 1 / (nT * nPrompts);
          let nll = 0;
          for (let i = 0; i < nPrompts; i++) {
            for (let j = 0; j < nT; j++) {
              const row = l.row0 + i * nT + j;
              const lp = logSoftmax(logits.subarray(row * V, (row + 1) * V));
              nll += -lp[l.targetIds[j]!]! * w;
              if (grad) for (let c = 0; c < V; c++) grad[row * V + c] = w * (Math.exp(lp[c]!) - (c === l.targetIds[j] ? 1 : 0));
            }
          }
          const klRow = l.row0 + nPrompts * nT;
          const now = logSoftmax(logits.subarray(klRow * V, (klRow + 1) * V));
          const start = (klInit[r] ??= now);
          let klDiv = 0;
          for (let c = 0; c < V; c++) klDiv += Math.exp(now[c]!) * (now[c]! - start[c]!);
          if (grad) for (let c = 0; c < V; c++) grad[klRow * V + c] = hp.klFactor * Math.exp(now[c]!) * (now[c]! - start[c]! - klDiv);
          return nll + hp.klFactor * klDiv + hp.weightDecay * (norm(deltas[r]!) / norm(objective.init![r]!) ** 2);
        });
        if (!grad) return losses.map((loss) => ({ loss }));

        tape.accumulate(out.logits, tape.constant([targets.length, V], grad));
        tape.backward(out.loss, tape.constant(out.loss.shape, new Float32Array(out.loss.size)), stopAt);
        const gD = tape.gradOf(D);
        if (!gD) throw new RangeError(`the loss does not depend on ${hookName}`);
        const [gd] = (await readAll(k, [gD])) as Float32Array[];
        return layout.map((l, r) => {
          const g = new Float64Array(d);
          for (let seq = l.seq0; seq <= l.seq0 + nPrompts; seq++) for (let c = 0; c < d; c++) g[c] = g[c]! + gd![rowOf(seq) * d + c]!;
          const delta = deltas[r]!;
          const deltaNorm = norm(delta);
          const initNorm = norm(objective.init![r]!);
          if (deltaNorm > 0) for (let c = 0; c < d; c++) g[c] = g[c]! + (hp.weightDecay * delta[c]!) / (deltaNorm * initNorm ** 2);
          return { loss: losses[r]!, grad: g };
        });
      } finally {
        tape.dispose();
      }
    },
  };
  return objective;
}

/**
 * Searches each request's δ (Adam from zero, the clamp after each step), all requests
 * in one batched pass per step; a request that stops (loss below 5e-2) keeps its δ
 * while the others go on, so each ends as it would alone. With `keyLayer`, also
 * returns the keys of the unedited pass.
 */
export async function optimizeValues(
  model: Model, tokenizer: Tokenizer, requests: readonly FactRequest[], prefixes: readonly string[], hookName: string, hp: ValueHparams, keyLayer?: number,
): Promise<ValueResult[]> {
  const d = model.config.nEmbd;
  const objective = valueObjective(model, tokenizer, requests, prefixes, hookName, hp, keyLayer);
  const state = requests.map(() => ({ delta: new Float64Array(d), m: new Float64Array(d), v: new Float64Array(d), losses: [] as number[], done: false }));
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8]; // torch.optim.Adam's defaults, as ROME uses them
  for (let step = 0; step < hp.steps && state.some((s) => !s.done); step++) {
    const last = step === hp.steps - 1;
    const results = await objective.evaluate(state.map((s) => s.delta), !last);
    results.forEach(({ loss, grad }, r) => {
      const s = state[r]!;
      if (s.done) return;
      s.losses.push(loss);
      if (loss < 5e-2 || last) {
        s.done = true;
        return;
      }
      const t = step + 1;
      for (let c = 0; c < d; c++) {
        s.m[c] = beta1 * s.m[c]! + (1 - beta1) * grad![c]!;
        s.v[c] = beta2 * s.v[c]! + (1 - beta2) * grad![c]! ** 2;
        const mHat = s.m[c]! / (1 - beta1 ** t);
        const vHat = s.v[c]! / (1 - beta2 ** t);
        s.delta[c] = s.delta[c]! - (hp.lr * mHat) / (Math.sqrt(vHat) + eps);
      }
      const maxNorm = hp.clampNormFactor * norm(objective.init![r]!);
      const after = norm(s.delta);
      if (after > maxNorm) for (let c = 0; c < d; c++) s.delta[c] = (s.delta[c]! * maxNorm) / after;
    });
  }
  return state.map((s, r) => ({ init: objective.init![r]!, delta: s.delta, losses: s.losses, keys: objective.keys[r] ?? [] }));
}
