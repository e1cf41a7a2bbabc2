// The fine-tuning baselines of SPEC §4. SGD applies W <- W - eta X^T Delta straight
// from the factors (one matmul per matrix, no dense gradient). Adam is MEMIT's FT
// baseline: Adam (beta 0.9/0.999, eps 1e-8, no weight decay) on FF2's weight and
// bias (a bias-free FF2, as Llama's down_proj, has only its weight), with the dense
// gradient formed for those tensors only. As in MEMIT's
// ft_main, each iteration measures the loss first and steps only while it is at
// least 1e-2, so the loss that ends the run is measured but never stepped on.
import { zeros } from '../gpu/buffers.ts';
import { GradientPass } from '../pass/pass.ts';
import type { PreparedPair } from '../pass/prepare.ts';
import type { BlockModule } from '../model/families/index.ts';
import type { Model } from '../model/model.ts';
import { adamw } from '../gpu/adam.ts';
import type { Tensor } from '../tensor.ts';

/** Adam's stopping rule in MEMIT's fine-tuning baseline. */
export const ADAM_STOP_LOSS = 1e-2;

/** `steps` SGD steps on the summed NLL, on each stored module's own rows of its role's weight; returns the loss before each step. */
export async function sgd(model: Model, pairs: readonly PreparedPair[], layers: readonly number[], parts: readonly BlockModule[], lr: number, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const pass = GradientPass.fromPrepared(model, pairs);
    try {
      for (const l of layers) for (const m of parts) pass.batchFactors(l, m.role).applyUpdate(model.editable(model.linear(l, m.role).weightName), lr, m);
      losses.push((await pass.readOutputs()).reduce((sum, o) => sum + o.loss, 0));
    } finally {
      pass.dispose();
    }
  }
  return losses;
}

/** Up to `maxSteps` Adam steps on MEMIT's loss (mean over pairs of the mean token NLL); returns the loss before each iteration and the steps applied. */
export async function adam(model: Model, pairs: readonly PreparedPair[], layers: readonly number[], lr: number, maxSteps: number): Promise<{ losses: number[]; steps: number }> {
  const k = model.k;
  const ff2 = layers.map((l) => model.linear(l, 'ff_out'));
  const names = ff2.flatMap((m) => [m.weightName, ...(m.biasName ? [m.biasName] : [])]);
  const state = new Map(names.map((n) => [n, { m: zeros(k, model.param(n).shape), v: zeros(k, model.param(n).shape) }]));
  const losses: number[] = [];
  let steps = 0;
  try {
    while (steps < maxSteps) {
      const pass = GradientPass.fromPrepared(model, pairs, { loss: 'mean' });
      try {
        const outputs = await pass.readOutputs();
        const loss = outputs.reduce((sum, o, i) => sum + o.loss / pairs[i]!.targets.length, 0) / pairs.length;
        losses.push(loss);
        if (loss < ADAM_STOP_LOSS) break;
        steps++;
        for (const lin of ff2) {
          const f = pass.batchFactors(lin.layer, 'ff_out');
          const grads: [string, Tensor][] = [[lin.weightName, f.materialize()], ...(lin.biasName ? [[lin.biasName, f.biasGradient()] as [string, Tensor]] : [])];
          for (const [name, g] of grads) {
            const { m, v } = state.get(name)!;
            adamw(k, model.editable(name), g, m, v, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: steps });
            g.dispose();
          }
        }
      } finally {
        pass.dispose();
      }
    }
  } finally {
    for (const { m, v } of state.values()) [m, v].forEach((t) => t.dispose());
  }
  return { losses, steps };
}
