// The model, one block for every family (the config's switches choose its parts:
// layer norm or RMSNorm, learned or rotary positions, a plain or gated activation,
// biases per role, [in, out] or [out, in] weights, q/k/v per head): pre-norm blocks
// x + attn_out(attn(attn_in(norm(x)))), x + ff_out(act(ff_in(norm(x)))), or in
// parallel x + attn_out(...) + ff_out(act(ff_in(norm(x)))) from the same x, a final
// norm, logits = h . D with D the embedding^T (tied) unless the checkpoint has its
// own head. Rotary turns q and k inside attn_in's output, so a hook or a cached
// decoder that receives it (attend) sees them already rotated. The forward pass, training, the hooks and the cached decoder all run
// blocks(). Every linear op records its factors under the checkpoint's module name
// (Family.linearName), which is also what reports show.
import type { Tape } from '../autograd/tape.ts';
import { upload, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { attention } from '../ops/attention.ts';
import { columnOrder, headsToParts, joinColumns, permuteColumns, sliceColumns } from '../ops/columns.ts';
import { embed, selectRows, widen } from '../ops/embedding.ts';
import { layernorm, rmsnorm } from '../ops/norm.ts';
import { linear } from '../ops/linear.ts';
import { activate, add, siluGate, type Activation } from '../ops/pointwise.ts';
import { rotary, rotaryTable } from '../ops/rotary.ts';
import { unembed } from '../ops/unembed.ts';
import { softmaxXent } from '../ops/xent.ts';
import type { Tensor } from '../tensor.ts';
import { BadModelError, checkSupported, trainedShapes, UNEMBED, type ModelConfig, type Role } from './config.ts';
import { familyOf, type Family } from './families/index.ts';

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

/** Passes an activation through the hook, checking a replacement's shape. */
function hooked(tape: Tape, hook: Hook | undefined): (name: string, t: Tensor) => Tensor {
  return (name, t) => {
    const replaced = hook?.(name, t, tape);
    if (!replaced || replaced === t) return t;
    if (replaced.shape.join(',') !== t.shape.join(',')) throw new RangeError(`hook ${name} returned shape [${replaced.shape}] for an activation of shape [${t.shape}]`);
    return replaced;
  };
}

/**
 * Every hook point of a model with `nLayer` blocks, in the order the forward pass
 * reaches them. A gated MLP has TransformerLens's two: mlp.hook_pre is the gate's
 * output (before the activation), mlp.hook_pre_linear the up projection's; parallel
 * blocks have no hook_resid_mid (no stream between attention and MLP).
 */
export function hookPoints(nLayer: number, shape: { gated?: boolean; parallelResidual?: boolean } = {}): string[] {
  const mlp = shape.gated ? ['mlp.hook_pre', 'mlp.hook_pre_linear'] : ['mlp.hook_pre'];
  const block = ['hook_resid_pre', 'ln1.hook_normalized', 'attn.hook_z', 'hook_attn_out', ...(shape.parallelResidual ? [] : ['hook_resid_mid']), 'ln2.hook_normalized', ...mlp, 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post'];
  return [...Array.from({ length: nLayer }, (_, l) => block.map((h) => `blocks.${l}.${h}`)).flat(), 'ln_final.hook_normalized'];
}

/** One linear module of one block, by role. */
export interface Linear {
  readonly layer: number;
  readonly role: Role;
  readonly weight: Tensor;
  readonly bias?: Tensor;
  /** Canonical parameter names, for editable(). */
  readonly weightName: string;
  readonly biasName?: string;
  /** The checkpoint's name (Family.linearName): its factors are recorded and reported under it. */
  readonly name: string;
}

export interface BlockOptions {
  /** Run blocks 0..lastLayer only (default: all). */
  lastLayer?: number;
  hook?: Hook;
  /** Replaces causal attention over the padded [B*T] batch, e.g. by cached attention (decode.ts). */
  attend?: (layer: number, qkv: Tensor) => Tensor;
}

export class Model {
  /** Original bytes of every parameter changed in place since load (or the last restore). */
  private readonly originals = new Map<string, Tensor>();

  readonly family: Family;

  constructor(
    readonly k: Kernels,
    readonly config: ModelConfig,
    /** Parameters by canonical name (config.ts); `unembed.weight` only for an untied head (editable() may swap one). */
    readonly params: Map<string, Tensor>,
  ) {
    checkSupported(config);
    this.family = familyOf(config);
  }

  /** Uploads float arrays keyed by the checkpoint's tensor names, checking every shape against the config. */
  static fromArrays(k: Kernels, config: ModelConfig, arrays: Record<string, ArrayLike<number>>): Model {
    checkSupported(config); // before any upload, which a refusal would leak
    const family = familyOf(config);
    const params = new Map<string, Tensor>();
    for (const [name, shape] of trainedShapes(config)) {
      const stored = family.checkpointName(name);
      const data = arrays[stored];
      if (!data) throw new BadModelError(`missing parameter ${stored}`);
      params.set(name, upload(k, shape, data, 'f32', stored));
    }
    return new Model(k, config, params);
  }

  /** A parameter by canonical name (config.ts) or by the checkpoint's own tensor name. */
  param(name: string): Tensor {
    const p = this.params.get(this.canonical(name));
    if (!p) throw new BadModelError(`the model has no parameter ${name}`);
    return p;
  }

  private canonical(name: string): string {
    return this.params.has(name) ? name : (this.family.canonical(name) ?? name);
  }

  /** The linear module of `role` in block `layer`. */
  linear(layer: number, role: Role): Linear {
    const base = `blocks.${layer}.${role}`;
    const biasName = this.params.has(`${base}.bias`) ? `${base}.bias` : undefined;
    return {
      layer, role, weight: this.param(`${base}.weight`), weightName: `${base}.weight`, name: this.family.linearName(layer, role),
      ...(biasName ? { bias: this.param(biasName), biasName } : {}),
    };
  }

  /** The checkpoint's tensor name for a canonical parameter. */
  checkpointName(name: string): string {
    return this.family.checkpointName(name);
  }

  /** D^T: the [V, d] matrix whose rows score each token (the embedding when the head is tied). */
  unembedding(): Tensor {
    return this.params.get(UNEMBED) ?? this.param('embed.weight');
  }

  /** The final norm of the residual stream [R, d]. */
  finalNorm(tape: Tape, x: Tensor): Tensor {
    return this.norm(tape, 'final_norm', x);
  }

  /** The norm `name` (final_norm, blocks.{l}.attn_norm, ...) of rows x. */
  private norm(tape: Tape, name: string, x: Tensor): Tensor {
    const { eps, norm } = this.config;
    const w = this.param(`${name}.weight`);
    return norm === 'rmsnorm' ? rmsnorm(tape, x, w, eps) : layernorm(tape, x, w, this.param(`${name}.bias`), eps);
  }

  /** Logits [R, V] of final-normed rows h. */
  logits(tape: Tape, h: Tensor): Tensor {
    return unembed(tape, h, this.unembedding());
  }

  /**
   * The parameter `name`, to be changed in place. Its original bytes are copied once,
   * on the first call, so restore() can give them back exactly; untouched parameters
   * are never copied. A 16-bit weight is replaced by an f32 copy instead (edits are
   * too small for 16 bits to hold), and the packed original is what restore() puts back.
   */
  editable(name: string): Tensor {
    const p = this.param(name);
    name = this.canonical(name);
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

  /** The checkpoint's names of the parameters changed since load or the last restore(). */
  get edited(): string[] {
    return [...this.originals.keys()].map((n) => this.checkpointName(n));
  }

  /** The original bytes of an edited parameter (undefined when it is unchanged). */
  original(name: string): Tensor | undefined {
    return this.originals.get(this.canonical(name));
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
    const own = (data: number[]) => tape.constant([data.length], data, 'i32');
    const x = this.padded(tape, sequences, T, { ...(hook ? { hook } : {}) });
    const hidden = hooked(tape, hook)('ln_final.hook_normalized', this.finalNorm(tape, x));
    const logits = this.logits(tape, selectRows(tape, hidden, own(targets.map((t) => t.seq * T + t.position))));
    const { loss, lse } = softmaxXent(tape, logits, own(targets.map((t) => t.token ?? -1)));
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
    this.padded(tape, sequences, T, { lastLayer, hook });
    return T;
  }

  /** The batch padded at the end to T, through the blocks. */
  private padded(tape: Tape, sequences: readonly (readonly number[])[], T: number, opts: BlockOptions): Tensor {
    const ids = sequences.flatMap((s) => [...s, ...new Array<number>(T - s.length).fill(0)]);
    const positions = sequences.flatMap(() => Array.from({ length: T }, (_, t) => t));
    return this.blocks(tape, ids, positions, sequences.length, T, opts);
  }

  /**
   * The residual stream after blocks 0..lastLayer (before the final norm) of B
   * sequences of T rows each, token `ids[r]` at position `positions[r]`.
   */
  blocks(tape: Tape, ids: readonly number[], positions: readonly number[], B: number, T: number, opts: BlockOptions = {}): Tensor {
    const c = this.config;
    const at = hooked(tape, opts.hook);
    const attend = opts.attend ?? ((_: number, qkv: Tensor) => attention(tape, qkv, B, T, c.nHead, c.nKvHead));
    const linearOf = (l: number, role: Role, x: Tensor) => {
      const m = this.linear(l, role);
      return linear(tape, m.name, x, m.weight, m.bias ?? null, c.weightLayout);
    };
    const own = (data: readonly number[]) => tape.constant([data.length], data, 'i32');
    const rope = c.position.kind === 'rotary' ? c.position : undefined;
    let x = rope
      ? embed(tape, this.param('embed.weight'), null, own(ids), null)
      : embed(tape, this.param('embed.weight'), this.param('pos_embed.weight'), own(ids), own(positions));
    // cos | sin per row, once for every layer.
    const table = rope && rotaryTable(tape, positions, { theta: rope.base, rotaryDim: rope.dims, scaling: rope.scaling });
    // The per-head regrouping, uploaded once for every layer as the table is.
    const regroup = c.qkvPerHead ? columnOrder(tape, headsToParts(c.nHead, 3, c.headDim), 3 * c.nHead * c.headDim) : undefined;
    // q's heads then k's turn; v, after them in the row, passes through.
    const positioned = (out: Tensor) => {
      const qkv = regroup ? permuteColumns(tape, out, regroup) : out;
      return table ? rotary(tape, qkv, table, c.nHead + c.nKvHead, c.headDim) : qkv;
    };
    const activation = (pre: Tensor) => (c.gated ? siluGate(tape, pre) : activate(tape, pre, c.activation as Activation));
    // A gated MLP's ff_in output is gate | up; its hooks see the halves apart, cut out
    // (and joined back only where a hook replaced one) when there is a hook at all.
    const mlpPre = (b: string, pre: Tensor) => {
      if (!c.gated) return at(`${b}.mlp.hook_pre`, pre);
      if (!opts.hook) return pre;
      const [gate, up] = [sliceColumns(tape, pre, 0, c.nInner, 'gate'), sliceColumns(tape, pre, c.nInner, c.nInner, 'up')];
      const [gate2, up2] = [at(`${b}.mlp.hook_pre`, gate), at(`${b}.mlp.hook_pre_linear`, up)];
      return gate2 === gate && up2 === up ? pre : joinColumns(tape, [gate2, up2], 'gate_up');
    };
    for (let l = 0; l <= (opts.lastLayer ?? c.nLayer - 1); l++) {
      const b = `blocks.${l}`;
      x = at(`${b}.hook_resid_pre`, x);
      const ln1 = at(`${b}.ln1.hook_normalized`, this.norm(tape, `${b}.attn_norm`, x));
      const z = at(`${b}.attn.hook_z`, attend(l, positioned(linearOf(l, 'attn_in', ln1))));
      const attnOut = at(`${b}.hook_attn_out`, linearOf(l, 'attn_out', z));
      // A parallel block's MLP reads the block's input, as its attention does.
      if (!c.parallelResidual) x = at(`${b}.hook_resid_mid`, add(tape, x, attnOut));
      const ln2 = at(`${b}.ln2.hook_normalized`, this.norm(tape, `${b}.ff_norm`, x));
      const pre = mlpPre(b, linearOf(l, 'ff_in', ln2));
      const post = at(`${b}.mlp.hook_post`, activation(pre));
      const mlpOut = at(`${b}.hook_mlp_out`, linearOf(l, 'ff_out', post));
      x = at(`${b}.hook_resid_post`, add(tape, c.parallelResidual ? add(tape, x, attnOut) : x, mlpOut));
    }
    return x;
  }

  private validate(sequences: readonly (readonly number[])[], targets: readonly Target[]): number {
    const { nPositions, vocabSize } = this.config;
    if (sequences.length === 0) throw new RangeError('no sequences to run');
    sequences.forEach((s, i) => {
      if (s.length === 0) throw new RangeError(`sequence ${i} is empty`);
      if (s.length > nPositions) throw new RangeError(`sequence ${i} has ${s.length} tokens; the model's context is ${nPositions}`);
      const window = this.config.slidingWindow;
      if (window !== undefined && s.length > window) throw new RangeError(`sequence ${i} has ${s.length} tokens; the model's attention window (sliding_window) is ${window}, and longer sequences are not supported`);
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
