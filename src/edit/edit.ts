// edit(): checks an EditSpec against the model, tokenizes the pairs, runs the method
// and reports what changed. Several pairs are one batched edit. Undo with
// model.restore(), which gives back the original bytes of every changed weight.
import { BadInputError } from '../errors.ts';
import { preparePair } from '../pass/prepare.ts';
import { blockModules, type BlockModule } from '../model/families/index.ts';
import type { Model } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { weightChanges } from './changes.ts';
import { adam, sgd } from './finetune.ts';
import { forwardPassShift } from './shift.ts';
import { EDIT_METHODS, type EditPair, type EditResult, type EditSpec } from './types.ts';

/** MEMIT's fine-tuning baseline: Adam at 5e-4 for up to 25 steps. */
export const ADAM_DEFAULTS = { lr: 5e-4, steps: 25 } as const;

export async function edit(model: Model, tokenizer: Tokenizer, pairs: readonly EditPair[], spec: EditSpec): Promise<EditResult> {
  const { parts, ...s } = checkSpec(model, spec);
  if (pairs.length === 0) throw new BadInputError('no prompt/target pairs to edit');
  const prepared = pairs.map((p) => preparePair(model, tokenizer, p.prompt, p.target, s.targetTokens));
  let steps = 0;
  let losses: number[] = [];
  let shifts = pairs.map(() => 0);
  if (s.method === 'shift') {
    ({ passes: steps, shifts } = await forwardPassShift(model, prepared, s.layers, s.lr, s.steps));
  } else if (s.method === 'sgd') {
    losses = await sgd(model, prepared, s.layers, parts, s.lr, s.steps);
    steps = losses.length;
  } else {
    ({ losses, steps } = await adam(model, prepared, s.layers, s.lr, s.steps));
  }
  return { spec: s, steps, losses, shifts, changes: await weightChanges(model) };
}

/**
 * The spec with its defaults filled in (modules by the checkpoint's names, as results
 * show them) and the stored modules it edits; a value the method cannot take is a
 * BadInputError that names it.
 */
export function checkSpec(model: Model, spec: EditSpec): EditResult['spec'] & { parts: BlockModule[] } {
  const { method } = spec;
  if (!EDIT_METHODS.includes(method)) throw new BadInputError(`unknown edit method "${method}": choose ${EDIT_METHODS.join(', ')}`);
  const nLayer = model.config.nLayer;
  const layers = [...new Set(spec.layers)].sort((a, b) => a - b);
  if (layers.length === 0) throw new BadInputError('no layers to edit: give at least one');
  const bad = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= nLayer);
  if (bad !== undefined) throw new BadInputError(`layer ${bad} does not exist: this model has layers 0-${nLayer - 1}`);
  const lr = spec.lr ?? (method === 'adam' ? ADAM_DEFAULTS.lr : undefined);
  if (lr === undefined) throw new BadInputError(`${method} needs a learning rate eta`);
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) throw new BadInputError(`η ${lr} must be a number > 0`);
  const steps = spec.steps ?? (method === 'adam' ? ADAM_DEFAULTS.steps : 1);
  if (!Number.isInteger(steps) || steps < 1) throw new BadInputError(`steps ${steps}: give a whole number >= 1`);
  const parts = blockModules(model.config, spec.modules ?? ['ff_out']);
  if (method !== 'sgd' && parts.some((m) => m.role !== 'ff_out')) {
    throw new BadInputError(`${method} edits ${model.family.modules.ff_out} (FF2) only, not ${parts.filter((m) => m.role !== 'ff_out').map((m) => m.name).join(', ')}; use sgd for other modules`);
  }
  const targetTokens = spec.targetTokens ?? 'first';
  if (targetTokens !== 'first' && targetTokens !== 'all') throw new BadInputError(`targetTokens "${targetTokens}": choose first or all`);
  if (method === 'shift' && targetTokens !== 'first') throw new BadInputError('shift writes the first target token (e = D[:, t]); targetTokens "all" applies to sgd and adam');
  return { method, layers, lr, steps, modules: parts.map((m) => m.name), targetTokens, parts };
}
