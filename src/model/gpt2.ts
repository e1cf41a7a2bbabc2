// GPT-2 exactly as Hugging Face's GPT2LMHeadModel computes it, on the engine's ops:
// pre-LN blocks x + attn(ln_1(x)), x + mlp(ln_2(x)), mlp = c_proj(gelu_new(c_fc)),
// final ln_f, logits = h . D with D = wte^T (tied) unless the checkpoint has its own
// lm_head. Every linear op records its factors under `h.{l}.{module}`.
import type { Tape } from '../autograd/tape.ts';
import { upload, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { attention } from '../ops/attention.ts';
import { embed, selectRows, widen } from '../ops/embedding.ts';
import { layernorm } from '../ops/layernorm.ts';
import { linear } from '../ops/linear.ts';
import { activate, add } from '../ops/pointwise.ts';
import { unembed } from '../ops/unembed.ts';
import { softmaxXent } from '../ops/xent.ts';
import type { Tensor } from '../tensor.ts';
import { BadModelError, parameterShapes, type Gpt2Config } from './config.ts';

/** A position whose next-token logits are wanted; with `token`, also its NLL. */
export interface Target {
  /** Which sequence of the batch. */
  seq: number;
  /** Position in that sequence whose output predicts the token. */
  position: number;
  /** Model id of the token to predict, or undefined for logits only. */
  token?: number;
}

export interface ForwardResult {
  /** [targets, V] logits at the target positions. */
  logits: Tensor;
  /** [targets] log-sum-exp of each logits row (probabilities = exp(logit - lse)). */
  lse: Tensor;
  /** [targets] NLL of each target token, 0 where no token was given. */
  loss: Tensor;
  /** Padded length: row of (seq, position) in any [B*T, ...] activation is seq*T + position. */
  T: number;
}

/**
 * A hook sees each named activation as the forward pass makes it (names follow
 * TransformerLens: `hookPoints` lists them). Returning a tensor of the same shape
 * replaces the activation for the rest of the pass; a replacement made by ops on
 * `tape` from the activation keeps the gradient flowing through it.
 */
export type Hook = (name: string, activation: Tensor, tape: Tape) => Tensor | void;

/** Every hook point of a model with `nLayer` blocks, in the order the forward pass reaches them. */
export function hookPoints(nLayer: number): string[] {
  const block = ['hook_resid_pre', 'ln1.hook_normalized', 'attn.hook_z', 'hook_attn_out', 'hook_resid_mid', 'ln2.hook_normalized', 'mlp.hook_pre', 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post'];
  return [...Array.from({ length: nLayer }, (_, l) => block.map((h) => `blocks.${l}.${h}`)).flat(), 'ln_final.hook_normalized'];
}

export class Gpt2 {
  /** Original bytes of every parameter changed in place since load (or the last restore). */
  private readonly originals = new Map<string, Tensor>();

  constructor(
    readonly k: Kernels,
    readonly config: Gpt2Config,
    /** Parameters by Hugging Face name without the `transformer.` prefix (editable() may swap one). */
    readonly params: Map<string, Tensor>,
    /** The decoding matrix's source: `wte.weight` when tied, else `lm_head.weight`. */
    readonly headName: 'wte.weight' | 'lm_head.weight' = 'wte.weight',
  ) {}

  /** Uploads float arrays keyed by parameter name, checking every shape against the config. */
  static fromArrays(k: Kernels, config: Gpt2Config, arrays: Record<string, ArrayLike<number>>): Gpt2 {
    const params = new Map<string, Tensor>();
    for (const [name, shape] of parameterShapes(config)) {
      const data = arrays[name];
      if (!data) throw new BadModelError(`missing parameter ${name}`);
      params.set(name, upload(k, shape, data, 'f32', name));
    }
    return new Gpt2(k, config, params);
  }

  param(name: string): Tensor {
    const p = this.params.get(name);
    if (!p) throw new BadModelError(`the model has no parameter ${name}`);
    return p;
  }

  /**
   * The parameter `name`, to be changed in place. Its original bytes are copied once,
   * on the first call, so restore() can give them back exactly; untouched parameters
   * are never copied. A 16-bit weight is replaced by an f32 copy instead (edits are
   * too small for 16 bits to hold), and the packed original is what restore() puts back.
   */
  editable(name: string): Tensor {
    const p = this.param(name);
    if (!this.originals.has(name) && p.packed) {
      this.originals.set(name, p);
      this.params.set(name, widen(this.k, p));
    } else if (!this.originals.has(name)) {
      const copy = zeros(this.k, p.shape, p.dtype, `${name}.original`);
      this.k.copy(p.buffer, 0, copy.buffer, 0, p.size * 4);
      this.originals.set(name, copy);
    }
    return this.param(name);
  }

  /** Names of the parameters changed since load or the last restore(). */
  get edited(): string[] {
    return [...this.originals.keys()];
  }

  /** The original bytes of an edited parameter (undefined when it is unchanged). */
  original(name: string): Tensor | undefined {
    return this.originals.get(name);
  }

  /** Gives every edited parameter its original bytes back; returns their names. */
  restore(): string[] {
    const names = this.edited;
    for (const [name, copy] of this.originals) {
      if (copy.packed) {
        this.param(name).dispose();
        this.params.set(name, copy);
        continue;
      }
      this.k.copy(copy.buffer, 0, this.param(name).buffer, 0, copy.size * 4);
      copy.dispose();
    }
    this.originals.clear();
    return names;
  }

  /**
   * Runs the batch (sequences padded at the end to the longest: causal attention keeps
   * padding from reaching real positions, so batch results equal single runs).
   */
  forward(tape: Tape, sequences: readonly (readonly number[])[], targets: readonly Target[], hook?: Hook): ForwardResult {
    const T = this.validate(sequences, targets);
    if (targets.length === 0) throw new RangeError('no target positions: ask for at least one row of logits');
    const { x, at, own } = this.blocks(tape, sequences, T, this.config.nLayer - 1, hook);
    const hidden = at('ln_final.hook_normalized', layernorm(tape, x, this.param('ln_f.weight'), this.param('ln_f.bias'), this.config.eps));
    const rows = selectRows(tape, hidden, own([targets.length], targets.map((t) => t.seq * T + t.position)));
    const logits = unembed(tape, rows, this.param(this.headName));
    const { loss, lse } = softmaxXent(tape, logits, own([targets.length], targets.map((t) => t.token ?? -1)));
    return { logits, lse, loss, T };
  }

  /**
   * Blocks 0..lastLayer only, for hooks that read activations (second-moment
   * statistics, MEMIT's keys): the layers above and the head are not run. Returns the
   * padded length T, as forward does.
   */
  runBlocks(tape: Tape, sequences: readonly (readonly number[])[], lastLayer: number, hook: Hook): number {
    if (!Number.isInteger(lastLayer) || lastLayer < 0 || lastLayer >= this.config.nLayer) throw new RangeError(`layer ${lastLayer} does not exist; the model has layers 0-${this.config.nLayer - 1}`);
    const T = this.validate(sequences, []);
    this.blocks(tape, sequences, T, lastLayer, hook);
    return T;
  }

  private blocks(tape: Tape, sequences: readonly (readonly number[])[], T: number, lastLayer: number, hook?: Hook) {
    const c = this.config;
    const B = sequences.length;
    const ids = sequences.flatMap((s) => [...s, ...new Array<number>(T - s.length).fill(0)]);
    const positions = sequences.flatMap(() => Array.from({ length: T }, (_, t) => t));
    const own = (shape: number[], data: number[]) => tape.constant(shape, data, 'i32');

    const at = (name: string, t: Tensor): Tensor => {
      const replaced = hook?.(name, t, tape);
      if (!replaced || replaced === t) return t;
      if (replaced.shape.join(',') !== t.shape.join(',')) throw new RangeError(`hook ${name} returned shape [${replaced.shape}] for an activation of shape [${t.shape}]`);
      return replaced;
    };

    let x = embed(tape, this.param('wte.weight'), this.param('wpe.weight'), own([B * T], ids), own([B * T], positions));
    for (let l = 0; l <= lastLayer; l++) {
      const p = (name: string) => this.param(`h.${l}.${name}`);
      const b = `blocks.${l}`;
      x = at(`${b}.hook_resid_pre`, x);
      const ln1 = at(`${b}.ln1.hook_normalized`, layernorm(tape, x, p('ln_1.weight'), p('ln_1.bias'), c.eps));
      const qkv = linear(tape, `h.${l}.attn.c_attn`, ln1, p('attn.c_attn.weight'), p('attn.c_attn.bias'));
      const z = at(`${b}.attn.hook_z`, attention(tape, qkv, B, T, c.nHead));
      const attnOut = at(`${b}.hook_attn_out`, linear(tape, `h.${l}.attn.c_proj`, z, p('attn.c_proj.weight'), p('attn.c_proj.bias')));
      x = at(`${b}.hook_resid_mid`, add(tape, x, attnOut));
      const ln2 = at(`${b}.ln2.hook_normalized`, layernorm(tape, x, p('ln_2.weight'), p('ln_2.bias'), c.eps));
      const pre = at(`${b}.mlp.hook_pre`, linear(tape, `h.${l}.mlp.c_fc`, ln2, p('mlp.c_fc.weight'), p('mlp.c_fc.bias')));
      const post = at(`${b}.mlp.hook_post`, activate(tape, pre, c.activation ?? 'gelu_new'));
      const mlpOut = at(`${b}.hook_mlp_out`, linear(tape, `h.${l}.mlp.c_proj`, post, p('mlp.c_proj.weight'), p('mlp.c_proj.bias')));
      x = at(`${b}.hook_resid_post`, add(tape, x, mlpOut));
    }
    return { x, at, own };
  }

  private validate(sequences: readonly (readonly number[])[], targets: readonly Target[]): number {
    const { nPositions, vocabSize } = this.config;
    if (sequences.length === 0) throw new RangeError('no sequences to run');
    sequences.forEach((s, i) => {
      if (s.length === 0) throw new RangeError(`sequence ${i} is empty`);
      if (s.length > nPositions) throw new RangeError(`sequence ${i} has ${s.length} tokens; the model's context is ${nPositions}`);
      const bad = s.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
      if (bad !== undefined) throw new RangeError(`sequence ${i} has token id ${bad} outside the vocabulary 0..${vocabSize - 1}`);
    });
    for (const t of targets) {
      const s = sequences[t.seq];
      if (!s || t.position < 0 || t.position >= s.length || !Number.isInteger(t.position)) throw new RangeError(`target at sequence ${t.seq}, position ${t.position} is outside the batch`);
      if (t.token !== undefined && (!Number.isInteger(t.token) || t.token < 0 || t.token >= vocabSize)) throw new RangeError(`target token ${t.token} outside the vocabulary`);
    }
    return Math.max(...sequences.map((s) => s.length));
  }

  dispose(): void {
    for (const p of [...this.params.values(), ...this.originals.values()]) p.dispose();
    this.originals.clear();
  }
}
