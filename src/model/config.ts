// What the engine needs to know about a decoder-only transformer, whatever family it
// comes from: sizes plus a few switches (norm, positions, activation, biases, KV
// heads, residual layout, head). A family (families/) reads its own config.json into
// this; the model (model.ts) runs one block from it. Parameters have canonical names
// here; each family maps its checkpoint's tensor names to them and back.
import { BadInputError } from '../errors.ts';
import type { Activation } from '../ops/pointwise.ts';
import type { RopeScaling } from '../ops/rotary.ts';

export type { Activation, RopeScaling };

export class BadModelError extends BadInputError {
  override name = 'BadModelError';
}

/** The four kinds of linear module the paper reasons about; a block has one of each. */
export const ROLES = ['attn_in', 'attn_out', 'ff_in', 'ff_out'] as const;
/** attn_in: q/k/v; attn_out: the attention output projection; ff_in: FF1; ff_out: FF2. */
export type Role = (typeof ROLES)[number];

/** Positions: a learned table added to the embedding, or rotary on q and k (Hugging Face's rotate_half pairing, i with i + dims/2). */
export type Position =
  | { readonly kind: 'learned' }
  | { readonly kind: 'rotary'; readonly base: number; readonly dims: number; readonly scaling: RopeScaling };

export interface ModelConfig {
  /** The family (families/index.ts) that reads and writes this model's checkpoints. */
  family: string;
  nLayer: number;
  nHead: number;
  /** Key/value heads (grouped-query attention when fewer than nHead). */
  nKvHead: number;
  headDim: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  nInner: number;
  eps: number;
  norm: 'layernorm' | 'rmsnorm';
  position: Position;
  /** The MLP's activation; `gated` multiplies it by a second projection of the same input. */
  activation: Activation | 'silu';
  gated: boolean;
  /** Which linear modules carry a bias. */
  bias: Readonly<Record<Role, boolean>>;
  /** x + attn(ln1(x)) + mlp(ln2(x)) instead of two residual steps (GPT-NeoX's use_parallel_residual). */
  parallelResidual: boolean;
  /**
   * attn_in's output is q, k, v interleaved per head ([q_h | k_h | v_h] for each head
   * h, GPT-NeoX's query_key_value) rather than q | k | v; the model regroups it.
   */
  qkvPerHead?: boolean;
  /** Whether the family's checkpoints share the embedding with the head by default. */
  tiedHead: boolean;
  /**
   * How linear weights are stored and kept on the device: [in, out] (GPT-2's Conv1D)
   * or [out, in] (nn.Linear, read as is rather than transposed at load).
   */
  weightLayout: 'in_out' | 'out_in';
  /** Mistral's attention window: a longer sequence would need masking the engine does not do, so it is refused. */
  slidingWindow?: number;
  /** config.json's bos_token_id and eos_token_id(s), where it has them. */
  bos?: number;
  eos?: readonly number[];
}

export type ModelSizes = Pick<ModelConfig, 'nLayer' | 'nHead' | 'nEmbd' | 'nPositions' | 'vocabSize' | 'nInner' | 'eps'> & { activation?: ModelConfig['activation'] };

/** The sizes a report shows, in the order it always has. */
export function sizesOf(c: ModelConfig): ModelSizes {
  return { nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nPositions: c.nPositions, vocabSize: c.vocabSize, nInner: c.nInner, eps: c.eps, activation: c.activation };
}

/**
 * Refuses the switch values whose kernels have not landed yet, naming the first
 * one, so a model of another family fails at load instead of computing something else.
 */
export function checkSupported(c: ModelConfig): void {
  const unsupported: [boolean, string][] = [
    [c.activation === 'silu' && !c.gated, 'activation silu without a gate'],
    [c.gated && c.activation !== 'silu', `activation gated ${c.activation}`],
    [c.qkvPerHead === true && c.nKvHead !== c.nHead, 'per-head q/k/v with grouped key/value heads'],
  ];
  const first = unsupported.find(([bad]) => bad);
  if (first) throw new BadModelError(`${first[1]} is not yet supported by this engine (model family ${c.family})`);
}

/**
 * The blocks of a role's output, in order: attn_in is q | k | v and a gated ff_in is
 * gate | up, concatenated along the output, so each role is one product, x_i is
 * shared by the blocks and delta_i is theirs side by side. A family that stores the
 * blocks as separate matrices (Llama's q_proj, k_proj, v_proj) names one module per block.
 */
export function outputBlocks(c: ModelConfig, role: Role): number[] {
  switch (role) {
    case 'attn_in':
      return [c.nHead * c.headDim, c.nKvHead * c.headDim, c.nKvHead * c.headDim];
    case 'ff_in':
      return c.gated ? [c.nInner, c.nInner] : [c.nInner];
    default:
      return [c.nEmbd];
  }
}

/** Every parameter by canonical name, with its shape, in load order. */
export function parameterShapes(c: ModelConfig): Map<string, number[]> {
  const d = c.nEmbd;
  const shapes = new Map<string, number[]>([['embed.weight', [c.vocabSize, d]]]);
  if (c.position.kind === 'learned') shapes.set('pos_embed.weight', [c.nPositions, d]);
  const norm = (name: string) => {
    shapes.set(`${name}.weight`, [d]);
    if (c.norm === 'layernorm') shapes.set(`${name}.bias`, [d]);
  };
  const linear = (name: string, role: Role, inDim: number, outDim: number) => {
    shapes.set(`${name}.weight`, c.weightLayout === 'in_out' ? [inDim, outDim] : [outDim, inDim]);
    if (c.bias[role]) shapes.set(`${name}.bias`, [outDim]);
  };
  const width = (role: Role) => outputBlocks(c, role).reduce((a, b) => a + b, 0);
  for (let l = 0; l < c.nLayer; l++) {
    const b = `blocks.${l}`;
    norm(`${b}.attn_norm`);
    linear(`${b}.attn_in`, 'attn_in', d, width('attn_in'));
    linear(`${b}.attn_out`, 'attn_out', c.nHead * c.headDim, d);
    norm(`${b}.ff_norm`);
    linear(`${b}.ff_in`, 'ff_in', d, width('ff_in'));
    linear(`${b}.ff_out`, 'ff_out', c.nInner, d);
  }
  norm('final_norm');
  return shapes;
}

/** The canonical name of the head when it is not the embedding. */
export const UNEMBED = 'unembed.weight';

/** parameterShapes plus the head where it is not tied to the embedding: what a model made from arrays, or trained, holds. */
export function trainedShapes(c: ModelConfig): Map<string, number[]> {
  const shapes = parameterShapes(c);
  if (!c.tiedHead) shapes.set(UNEMBED, [c.vocabSize, c.nEmbd]);
  return shapes;
}
