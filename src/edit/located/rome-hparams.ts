// ROME's and MEMIT's hyperparameters per model, with where each comes from.
// GPT-2 XL: the authors' files, kmeng01/rome hparams/ROME/gpt2-xl.json (layer 17,
// v_num_grad_steps 20, v_lr 5e-1, v_weight_decay 0.5, clamp_norm_factor 4,
// kl_factor 0.0625, mom2_adjustment, 100k Wikipedia samples) and kmeng01/memit
// hparams/MEMIT/gpt2-xl.json (layers 13-17, the same value search but
// clamp_norm_factor 0.75, mom2_update_weight 20000; read in three copies of the file
// in forks of kmeng01/memit, which agree). The value search is the same
// for every GPT-2 size in their files; only the layers (and MEMIT's λ, which scales
// with the statistics) are per model. The embedded default model's layers and λ come
// from the sweep in docs/rome-memit.md.
import type { ModelConfig } from '../../model/config.ts';
import type { ValueHparams } from './value-vector.ts';

export const ROME_VALUE: ValueHparams = { steps: 20, lr: 0.5, weightDecay: 0.5, clampNormFactor: 4, klFactor: 0.0625 };
export const MEMIT_VALUE: ValueHparams = { ...ROME_VALUE, clampNormFactor: 0.75 };

export interface LocatedDefaults {
  source: string;
  romeLayer: number;
  memitLayers: number[];
  /** mom2_update_weight λ */
  memitLambda: number;
  romeValue: ValueHparams;
  memitValue: ValueHparams;
}

const GPT2_XL: LocatedDefaults = {
  source: 'kmeng01/rome and kmeng01/memit hparams for gpt2-xl', romeLayer: 17, memitLayers: [13, 14, 15, 16, 17], memitLambda: 20000, romeValue: ROME_VALUE, memitValue: MEMIT_VALUE,
};

/** Models without a row: the authors' value search and λ; layers must be given. */
export const AUTHORS_VALUES = { memitLambda: 20000, romeValue: ROME_VALUE, memitValue: MEMIT_VALUE } as const;

/**
 * The default model, from the small sweep in docs/rome-memit.md (3 trained records
 * with targets seen in training): ROME succeeded on 1 of 3 at every layer and
 * setting tried, with the lowest value loss at layer 0; MEMIT over layers 0-1 on 3
 * of 3 once λ is scaled down with f (512 against GPT-2 XL's 6400) and its value
 * search gets ROME's clamp, 60 steps and lr 2.
 */
export const DEFAULT_MODEL_LOCATED: LocatedDefaults = {
  source: 'the default model\'s sweep (docs/rome-memit.md)',
  romeLayer: 0,
  memitLayers: [0, 1],
  memitLambda: 200,
  romeValue: ROME_VALUE,
  memitValue: { ...ROME_VALUE, steps: 60, lr: 2 },
};

export function locatedDefaults(config: ModelConfig, isDefaultModel: boolean): LocatedDefaults | undefined {
  if (isDefaultModel) return DEFAULT_MODEL_LOCATED;
  if (config.nLayer === 48 && config.nEmbd === 1600) return GPT2_XL;
  return undefined;
}
