// Float64 GPT-2 (Hugging Face GPT2LMHeadModel) forward and backward built from the
// reference ops: pre-LN blocks x + attn(ln_1(x)), then x + mlp(ln_2(x)), final ln_f,
// logits tied to wte. Parameter names are HF's without the `transformer.` prefix and
// linear weights keep the Conv1D layout [in, out].

import {
  attentionBackwardRef, attentionRef, embeddingBackwardRef, embeddingRef, geluBackwardRef, geluErfBackwardRef, geluErfRef, geluRef,
  layernormBackwardRef, layernormRef, matmulRef, mulberry32Ref, softmaxRef, softmaxXentBackwardRef, softmaxXentRef,
  reluBackwardRef, reluRef,
} from './ops';

export interface Gpt2ConfigRef {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  nInner: number;
  eps: number;
  /** The MLP activation; absent means gelu_new (the engine's config type allows more than the reference runs). */
  activation?: string;
}

function activationRef(cfg: Gpt2ConfigRef): (typeof ACTIVATIONS_REF)['gelu_new'] {
  const name = cfg.activation ?? 'gelu_new';
  if (!Object.hasOwn(ACTIVATIONS_REF, name)) throw new Error(`the reference has no activation ${name}`);
  return ACTIVATIONS_REF[name as keyof typeof ACTIVATIONS_REF];
}

const ACTIVATIONS_REF = {
  gelu_new: [geluRef, geluBackwardRef],
  gelu: [geluErfRef, geluErfBackwardRef],
  relu: [reluRef, reluBackwardRef],
} as const;

export type Gpt2ParamsRef = Record<string, Float64Array>;

/** Low-rank gradient of one linear layer: Σ_i x_iᵀ δ_i over the rows equals its weight gradient. */
export interface LinearFactorsRef {
  x: Float64Array;
  delta: Float64Array;
  rows: number;
  inDim: number;
  outDim: number;
}

export interface Gpt2TargetRef {
  position: number;
  token: number;
}

/** The four linear layers of a block, as suffixes of `h.{l}.`. */
export const GPT2_LINEARS_REF = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

/** Every parameter's shape, in a fixed order (the order randomGpt2ParamsRef draws them). */
export function gpt2ParamShapesRef(cfg: Gpt2ConfigRef): Record<string, number[]> {
  const { nEmbd: d, nInner: f } = cfg;
  const shapes: Record<string, number[]> = {
    'wte.weight': [cfg.vocabSize, d],
    'wpe.weight': [cfg.nPositions, d],
  };
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    shapes[`${p}ln_1.weight`] = [d];
    shapes[`${p}ln_1.bias`] = [d];
    shapes[`${p}attn.c_attn.weight`] = [d, 3 * d];
    shapes[`${p}attn.c_attn.bias`] = [3 * d];
    shapes[`${p}attn.c_proj.weight`] = [d, d];
    shapes[`${p}attn.c_proj.bias`] = [d];
    shapes[`${p}ln_2.weight`] = [d];
    shapes[`${p}ln_2.bias`] = [d];
    shapes[`${p}mlp.c_fc.weight`] = [d, f];
    shapes[`${p}mlp.c_fc.bias`] = [f];
    shapes[`${p}mlp.c_proj.weight`] = [f, d];
    shapes[`${p}mlp.c_proj.bias`] = [d];
  }
  shapes['ln_f.weight'] = [d];
  shapes['ln_f.bias'] = [d];
  return shapes;
}

/**
 * Deterministic random parameters. Linear weights, linear biases and embeddings are
 * uniform with standard deviation `std`; layernorm γ = 1 ± 0.1 and β = ± 0.05, so
 * that a kernel ignoring γ, β or a bias visibly fails. Every value is rounded to
 * float32 so that a GPU f32 copy holds exactly the same numbers.
 */
export function randomGpt2ParamsRef(cfg: Gpt2ConfigRef, seed: number, std = 0.02): Gpt2ParamsRef {
  const rand = mulberry32Ref(seed);
  const symmetric = (halfWidth: number) => (2 * rand() - 1) * halfWidth;
  const params: Gpt2ParamsRef = {};
  for (const [name, shape] of Object.entries(gpt2ParamShapesRef(cfg))) {
    const isLn = /(^|\.)ln_(1|2|f)\./.test(name);
    const draw = !isLn ? () => symmetric(std * Math.sqrt(3))
      : name.endsWith('.weight') ? () => 1 + symmetric(0.1)
        : () => symmetric(0.05);
    params[name] = Float64Array.from({ length: size(shape) }, () => Math.fround(draw()));
  }
  return params;
}

/** Activations one block keeps for its backward. */
interface BlockTape {
  x: Float64Array; // residual stream entering the block
  ln1: Float64Array; // attn.c_attn input
  qkv: Float64Array;
  att: Float64Array; // attn.c_proj input
  mid: Float64Array; // residual after the attention branch
  ln2: Float64Array; // mlp.c_fc input
  fc: Float64Array; // pre-GELU
  act: Float64Array; // mlp.c_proj input
}

interface ForwardTape {
  blocks: BlockTape[];
  final: Float64Array; // residual stream entering ln_f
  hidden: Float64Array;
  logits: Float64Array;
}

function forwardTape(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, ids: number[]): ForwardTape {
  checkModel(cfg, params);
  const T = ids.length;
  if (T < 1 || T > cfg.nPositions) throw new RangeError(`sequence length ${T} outside [1, ${cfg.nPositions}]`);
  const { nEmbd: d, nInner: f, nHead, eps } = cfg;
  const ln = (x: Float64Array, name: string) =>
    layernormRef(x, T, d, params[`${name}.weight`], params[`${name}.bias`], eps).y;
  const linear = (x: Float64Array, name: string, inDim: number, outDim: number) =>
    matmulRef(x, params[`${name}.weight`], T, inDim, outDim, { bias: params[`${name}.bias`] });

  const blocks: BlockTape[] = [];
  let x = embeddingRef(ids, params['wte.weight'], params['wpe.weight'], d);
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    const ln1 = ln(x, `${p}ln_1`);
    const qkv = linear(ln1, `${p}attn.c_attn`, d, 3 * d);
    const att = attentionRef(qkv, T, nHead, d / nHead);
    const mid = add(x, linear(att, `${p}attn.c_proj`, d, d));
    const ln2 = ln(mid, `${p}ln_2`);
    const fc = linear(ln2, `${p}mlp.c_fc`, d, f);
    const act = activationRef(cfg)[0](fc);
    blocks.push({ x, ln1, qkv, att, mid, ln2, fc, act });
    x = add(mid, linear(act, `${p}mlp.c_proj`, f, d));
  }
  const hidden = ln(x, 'ln_f');
  const logits = matmulRef(hidden, params['wte.weight'], T, d, cfg.vocabSize, { transB: true });
  return { blocks, final: x, hidden, logits };
}

/** logits [T,V] and the final hidden states [T,d] (after ln_f). */
export function gpt2ForwardRef(
  cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, ids: number[],
): { logits: Float64Array; hidden: Float64Array } {
  const { logits, hidden } = forwardTape(cfg, params, ids);
  return { logits, hidden };
}

/**
 * loss = Σ over targets of −log softmax(logits[position])[token] (a position may
 * appear more than once). Returns dense gradients of every parameter (the tied wte
 * gets embedding + LM-head terms) and each linear layer's factors X = inputs [T,in],
 * Δ = ∂loss/∂outputs [T,out].
 */
export function gpt2BackwardRef(
  cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, ids: number[], targets: Gpt2TargetRef[],
): { loss: number; logits: Float64Array; grads: Gpt2ParamsRef; factors: Record<string, LinearFactorsRef> } {
  const tape = forwardTape(cfg, params, ids);
  const T = ids.length;
  const { nEmbd: d, nInner: f, nHead, eps, vocabSize: V } = cfg;
  const grads: Gpt2ParamsRef = {};
  const factors: Record<string, LinearFactorsRef> = {};

  const { loss, dlogits } = targetLoss(tape.logits, T, V, targets);
  const wte = params['wte.weight'];
  grads['wte.weight'] = matmulRef(dlogits, tape.hidden, V, T, d, { transA: true });
  const dhidden = matmulRef(dlogits, wte, T, V, d);

  // Layernorm backward: sets γ/β gradients and returns dL/d(input).
  const lnBack = (x: Float64Array, dy: Float64Array, name: string) => {
    const r = layernormBackwardRef(x, params[`${name}.weight`], dy, T, d, eps);
    grads[`${name}.weight`] = r.dgamma;
    grads[`${name}.bias`] = r.dbeta;
    return r.dx;
  };
  // Linear backward from the VJP δ of its output: records factors and dense W, b gradients.
  const linearBack = (x: Float64Array, delta: Float64Array, name: string, inDim: number, outDim: number) => {
    factors[name] = { x, delta, rows: T, inDim, outDim };
    grads[`${name}.weight`] = matmulRef(x, delta, inDim, T, outDim, { transA: true });
    grads[`${name}.bias`] = columnSums(delta, T, outDim);
    return matmulRef(delta, params[`${name}.weight`], T, outDim, inDim, { transB: true });
  };

  let dx = lnBack(tape.final, dhidden, 'ln_f');
  for (let l = cfg.nLayer - 1; l >= 0; l--) {
    const p = `h.${l}.`;
    const b = tape.blocks[l];
    const dact = linearBack(b.act, dx, `${p}mlp.c_proj`, f, d);
    const dfc = activationRef(cfg)[1](b.fc, dact);
    const dln2 = linearBack(b.ln2, dfc, `${p}mlp.c_fc`, d, f);
    const dmid = add(dx, lnBack(b.mid, dln2, `${p}ln_2`));
    const datt = linearBack(b.att, dmid, `${p}attn.c_proj`, d, d);
    const dqkv = attentionBackwardRef(b.qkv, datt, T, nHead, d / nHead);
    const dln1 = linearBack(b.ln1, dqkv, `${p}attn.c_attn`, d, 3 * d);
    dx = add(dmid, lnBack(b.x, dln1, `${p}ln_1`));
  }
  const emb = embeddingBackwardRef(ids, dx, V, cfg.nPositions, d);
  grads['wte.weight'] = add(grads['wte.weight'], emb.dwte);
  grads['wpe.weight'] = emb.dwpe;
  return { loss, logits: tape.logits, grads, factors };
}

/** Summed NLL over the target entries and its gradient w.r.t. the logits. */
function targetLoss(
  logits: Float64Array, T: number, V: number, targets: Gpt2TargetRef[],
): { loss: number; dlogits: Float64Array } {
  let loss = 0;
  const dlogits = new Float64Array(T * V);
  for (const { position, token } of targets) {
    if (!(Number.isInteger(position) && position >= 0 && position < T)) {
      throw new RangeError(`target position ${position} outside [0, ${T})`);
    }
    const row = logits.subarray(position * V, (position + 1) * V);
    loss += softmaxXentRef(row, 1, V, [token]).loss[0];
    const drow = softmaxXentBackwardRef(row, 1, V, [token], [1]);
    for (let v = 0; v < V; v++) dlogits[position * V + v] += drow[v];
  }
  return { loss, dlogits };
}

/**
 * Logit lens: softmax(ln_f(v)·wteᵀ) over the vocabulary. With `normalized`, v is
 * first scaled to unit L2 norm; the zero vector is left as it is (it has no direction).
 */
export function lnfLogitLensRef(
  cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, v: ArrayLike<number>, normalized: boolean,
): Float64Array {
  const d = cfg.nEmbd;
  if (v.length !== d) throw new RangeError(`lnfLogitLensRef: vector of length ${v.length}, expected ${d}`);
  let u = Float64Array.from(v);
  if (normalized) {
    const norm = Math.hypot(...u);
    if (norm > 0) u = u.map((x) => x / norm);
  }
  const y = layernormRef(u, 1, d, params['ln_f.weight'], params['ln_f.bias'], cfg.eps).y;
  return softmaxRef(matmulRef(y, params['wte.weight'], 1, d, cfg.vocabSize, { transB: true }));
}

function checkModel(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef): void {
  if (cfg.nEmbd % cfg.nHead !== 0) throw new RangeError(`nEmbd ${cfg.nEmbd} not divisible by nHead ${cfg.nHead}`);
  for (const [name, shape] of Object.entries(gpt2ParamShapesRef(cfg))) {
    const t = params[name];
    if (!t) throw new Error(`missing parameter ${name}`);
    if (t.length !== size(shape)) throw new RangeError(`parameter ${name}: length ${t.length}, expected [${shape}]`);
  }
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}

function columnSums(x: Float64Array, rows: number, cols: number): Float64Array {
  const s = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) s[c] += x[r * cols + c];
  return s;
}
