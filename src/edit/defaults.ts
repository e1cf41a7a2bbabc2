// Documented edit defaults per model (docs/cli/edit.md, weights/*/MODEL_CARD.md).
// The paper gives the forward pass shift's setting for GPT2-xl only (layer 35,
// eta 0.24); the embedded models' values come from the sweep in
// bench/experiments/edit-defaults.ts. Other models need --layers and --lr.
import type { ModelConfig } from '../model/config.ts';
import type { EditMethod } from './types.ts';

export interface EditDefaults {
  /** Where the setting comes from, printed with it. */
  source: string;
  layers: number[];
  /** eta per method; a method without one needs --lr. */
  lr: Partial<Record<EditMethod, number>>;
  /** --steps per method where it differs from the method's own default. */
  steps?: Partial<Record<EditMethod, number>>;
}

const DEFAULT_MODEL: EditDefaults = {
  source: 'the default model\'s sweep (MODEL_CARD.md, "Editing")',
  layers: [2],
  lr: { shift: 0.5, sgd: 1, adam: 5e-4 },
  // One shift at eta 0.5 moves about half the targets to the top; repeating the pass
  // (3.7 passes on average) reaches the rest with less damage to neighbours than one
  // large shift (the sweep's table).
  steps: { shift: 20 },
};

const LLAMA_DEFAULT: EditDefaults = {
  source: 'the embedded Llama\'s sweep (weights/llama-default/MODEL_CARD.md, "Editing")',
  layers: [1],
  // Adam is left out: it refuses an FF2 without a bias, as Llama's down_proj is.
  lr: { shift: 0.25, sgd: 3 },
  steps: { shift: 20 },
};

const GPT2_XL: EditDefaults = {
  source: 'the paper (§7: GPT2-xl, layer 35, eta 0.24; Adam: MEMIT\'s 5e-4)',
  layers: [35],
  lr: { shift: 0.24, adam: 5e-4 },
};

/** Shaped as weights/llama-default is (an edited copy of it included, as the web page loads it). */
function isLlamaDefault(c: ModelConfig): boolean {
  return c.family === 'llama' && c.nLayer === 4 && c.nEmbd === 128 && c.nHead === 8 && c.nKvHead === 4 && c.nInner === 344 && c.vocabSize === 5012;
}

/** The defaults for the embedded models, or for a model shaped like GPT2-xl; undefined otherwise. */
export function editDefaults(config: ModelConfig, isDefaultModel: boolean): EditDefaults | undefined {
  if (isDefaultModel) return DEFAULT_MODEL;
  if (isLlamaDefault(config)) return LLAMA_DEFAULT;
  if (config.nLayer === 48 && config.nEmbd === 1600 && config.vocabSize === 50257) return GPT2_XL;
  return undefined;
}

/** The table above in words, for --help. */
export function describeDefaults(): string {
  const d = DEFAULT_MODEL;
  return [
    `the embedded model: layer ${d.layers.join(', ')}, eta ${d.lr.shift} (shift, up to ${d.steps?.shift} passes), ${d.lr.sgd} (sgd),`,
    `${d.lr.adam} (adam), from its sweep (MODEL_CARD.md, "Editing"); the embedded Llama`,
    `(llama-default): layer ${LLAMA_DEFAULT.layers.join(', ')}, eta ${LLAMA_DEFAULT.lr.shift} (shift, up to ${LLAMA_DEFAULT.steps?.shift} passes), ${LLAMA_DEFAULT.lr.sgd} (sgd);`,
    `gpt2-xl-shaped models: layer 35, eta 0.24 (shift, the paper), 5e-4 (adam); other models: pass both.`,
  ].join('\n');
}
