// Float64 GPT-NeoX (Hugging Face GPTNeoXForCausalLM: Pythia) forward and backward,
// written from modeling_gpt_neox.py's equations and independent of the engine:
// blocks h + dense(attn(query_key_value(input_layernorm(h)))) + mlp(post_attention_layernorm(h))
// when parallel (use_parallel_residual), else m = h + attention(...), m + mlp(post_attention_layernorm(m));
// mlp = dense_4h_to_h(act(dense_h_to_4h(·))); query_key_value's output viewed as
// [heads, 3·hd] per row and chunked into q_h, k_h, v_h; rotary (rotate_half) on the
// first rotaryDim columns of each q and k head; causal attention scaled by 1/sqrt(hd);
// final_layer_norm, then embed_out (or embed_in when tied). LayerNorms carry biases.
// Parameters carry HF's names and nn.Linear's [out, in] layout.
import { gqaAttentionBackwardRef, gqaAttentionRef, ropeInvFreqRef, rotaryRef } from './llama-ops';
import {
  geluBackwardRef, geluErfBackwardRef, geluErfRef, geluRef, layernormBackwardRef, layernormRef, matmulRef, randomParamsRef, softmaxXentBackwardRef, softmaxXentRef,
} from './ops';

export interface NeoxConfigRef {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nInner: number;
  vocabSize: number;
  eps: number;
  /** rotary_pct: the first int(hd · rotaryPct) columns of each head turn. */
  rotaryPct: number;
  rotaryBase: number;
  parallel: boolean;
  /** hidden_act: exact gelu (Pythia) or gelu_new (tanh). */
  act: 'gelu' | 'gelu_new';
  /** attention_bias: biases on query_key_value and dense. */
  attentionBias: boolean;
  tied: boolean;
}

export type NeoxParamsRef = Record<string, Float64Array>;

export interface NeoxFactorsRef {
  x: Float64Array;
  delta: Float64Array;
  rows: number;
  inDim: number;
  outDim: number;
}

/** The linear modules of a block, as suffixes of `gpt_neox.layers.{l}.`. */
export const NEOX_LINEARS_REF = ['attention.query_key_value', 'attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h'] as const;

const headDim = (cfg: NeoxConfigRef) => cfg.nEmbd / cfg.nHead;
export const rotaryDimRef = (cfg: NeoxConfigRef) => Math.floor(headDim(cfg) * cfg.rotaryPct);

function linearDims(cfg: NeoxConfigRef, module: string): [inDim: number, outDim: number, bias: boolean] {
  const { nEmbd: d, nInner: f } = cfg;
  switch (module) {
    case 'attention.query_key_value': return [d, 3 * d, cfg.attentionBias];
    case 'attention.dense': return [d, d, cfg.attentionBias];
    case 'mlp.dense_h_to_4h': return [d, f, true];
    default: return [f, d, true];
  }
}

/** Every parameter's HF name and shape, in a fixed order (the order randomNeoxParamsRef draws them). */
export function neoxParamShapesRef(cfg: NeoxConfigRef): Record<string, number[]> {
  const d = cfg.nEmbd;
  const shapes: Record<string, number[]> = { 'gpt_neox.embed_in.weight': [cfg.vocabSize, d] };
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `gpt_neox.layers.${l}.`;
    for (const norm of ['input_layernorm', 'post_attention_layernorm']) {
      shapes[`${p}${norm}.weight`] = [d];
      shapes[`${p}${norm}.bias`] = [d];
    }
    for (const m of NEOX_LINEARS_REF) {
      const [inDim, outDim, bias] = linearDims(cfg, m);
      shapes[`${p}${m}.weight`] = [outDim, inDim];
      if (bias) shapes[`${p}${m}.bias`] = [outDim];
    }
  }
  shapes['gpt_neox.final_layer_norm.weight'] = [d];
  shapes['gpt_neox.final_layer_norm.bias'] = [d];
  if (!cfg.tied) shapes['embed_out.weight'] = [cfg.vocabSize, d];
  return shapes;
}

/** Deterministic uniform parameters of standard deviation `std`; norm weights 1 ± 0.1. Rounded to float32. */
export function randomNeoxParamsRef(cfg: NeoxConfigRef, seed: number, std = 0.3): NeoxParamsRef {
  return randomParamsRef(neoxParamShapesRef(cfg), seed, std, (name) => /(layernorm|layer_norm)\.weight$/.test(name));
}

/**
 * Rows of query_key_value's output, [q_h | k_h | v_h] per head h, as rows of
 * [q | k | v] (every head's q, then every k, then every v); `back` the other way.
 */
function splitHeads(x: Float64Array, T: number, H: number, hd: number, back = false): Float64Array {
  const w = 3 * H * hd;
  const out = new Float64Array(T * w);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      for (let part = 0; part < 3; part++) {
        const stored = t * w + h * 3 * hd + part * hd;
        const grouped = t * w + part * H * hd + h * hd;
        for (let i = 0; i < hd; i++) {
          if (back) out[stored + i] = x[grouped + i]!;
          else out[grouped + i] = x[stored + i]!;
        }
      }
    }
  }
  return out;
}

interface BlockTapeRef {
  h: Float64Array; // residual entering the block
  n1: Float64Array; // query_key_value input
  qkvRot: Float64Array; // [q | k | v] rows, q and k rotated
  z: Float64Array; // dense input
  mid: Float64Array; // the MLP's residual input: h when parallel
  n2: Float64Array; // dense_h_to_4h input
  pre: Float64Array; // dense_h_to_4h output
  act: Float64Array; // dense_4h_to_h input
}

function activation(cfg: NeoxConfigRef) {
  return cfg.act === 'gelu' ? { f: geluErfRef, df: geluErfBackwardRef } : { f: geluRef, df: geluBackwardRef };
}

const head = (cfg: NeoxConfigRef, params: NeoxParamsRef) => (cfg.tied ? params['gpt_neox.embed_in.weight']! : params['embed_out.weight']!);

function forwardTape(cfg: NeoxConfigRef, params: NeoxParamsRef, ids: readonly number[]) {
  for (const [name, shape] of Object.entries(neoxParamShapesRef(cfg))) {
    if (params[name]?.length !== shape.reduce((a, b) => a * b, 1)) throw new RangeError(`parameter ${name}: expected [${shape}]`);
  }
  const T = ids.length;
  const { nEmbd: d, nHead: H, eps } = cfg;
  const hd = headDim(cfg);
  const rot = { rows: T, width: 3 * d, heads: 2 * H, headDim: hd, rotaryDim: rotaryDimRef(cfg) };
  const invFreq = ropeInvFreqRef(rot.rotaryDim, cfg.rotaryBase, { type: 'default' });
  const positions = ids.map((_, t) => t);
  const linear = (x: Float64Array, name: string) => {
    const [inDim, outDim] = linearDims(cfg, name.replace(/^gpt_neox\.layers\.\d+\./, ''));
    return matmulRef(x, params[`${name}.weight`]!, T, inDim, outDim, { transB: true, bias: params[`${name}.bias`] });
  };
  const norm = (x: Float64Array, name: string) => layernormRef(x, T, d, params[`${name}.weight`]!, params[`${name}.bias`]!, eps).y;
  const emb = params['gpt_neox.embed_in.weight']!;
  let h: Float64Array = new Float64Array(T * d);
  ids.forEach((id, t) => h.set(emb.subarray(id * d, (id + 1) * d), t * d));
  const blocks: BlockTapeRef[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `gpt_neox.layers.${l}.`;
    const n1 = norm(h, `${p}input_layernorm`);
    const qkvRot = rotaryRef(splitHeads(linear(n1, `${p}attention.query_key_value`), T, H, hd), rot, positions, invFreq);
    const z = gqaAttentionRef(qkvRot, T, H, H, hd);
    const attn = linear(z, `${p}attention.dense`);
    const mid = cfg.parallel ? h : add(h, attn);
    const n2 = norm(mid, `${p}post_attention_layernorm`);
    const pre = linear(n2, `${p}mlp.dense_h_to_4h`);
    const act = activation(cfg).f(pre);
    blocks.push({ h, n1, qkvRot, z, mid, n2, pre, act });
    const mlp = linear(act, `${p}mlp.dense_4h_to_h`);
    h = cfg.parallel ? add(add(mlp, attn), h) : add(mid, mlp);
  }
  const final = h;
  const hidden = norm(h, 'gpt_neox.final_layer_norm');
  const logits = matmulRef(hidden, head(cfg, params), T, d, cfg.vocabSize, { transB: true });
  return { blocks, final, hidden, logits, rot, invFreq, positions };
}

/**
 * loss = Σ over targets of −log softmax(logits[position])[token]; every linear module's
 * factors under its HF name without `.weight`: x = its inputs [T, in], delta =
 * ∂loss/∂(its outputs) [T, out], query_key_value's in the stored per-head order.
 */
export function neoxBackwardRef(
  cfg: NeoxConfigRef, params: NeoxParamsRef, ids: readonly number[], targets: readonly { position: number; token: number }[],
): { loss: number; logits: Float64Array; factors: Record<string, NeoxFactorsRef> } {
  const tape = forwardTape(cfg, params, ids);
  const T = ids.length;
  const { nEmbd: d, nHead: H, eps, vocabSize: V } = cfg;
  const hd = headDim(cfg);
  let loss = 0;
  const dlogits = new Float64Array(T * V);
  for (const { position, token } of targets) {
    const row = tape.logits.subarray(position * V, (position + 1) * V);
    loss += softmaxXentRef(row, 1, V, [token]).loss[0]!;
    softmaxXentBackwardRef(row, 1, V, [token], [1]).forEach((g, v) => (dlogits[position * V + v] += g));
  }
  const factors: Record<string, NeoxFactorsRef> = {};
  const linearBack = (x: Float64Array, delta: Float64Array, name: string) => {
    const [inDim, outDim] = linearDims(cfg, name.replace(/^gpt_neox\.layers\.\d+\./, ''));
    factors[name] = { x, delta, rows: T, inDim, outDim };
    return matmulRef(delta, params[`${name}.weight`]!, T, outDim, inDim);
  };
  const normBack = (x: Float64Array, dy: Float64Array, name: string) => layernormBackwardRef(x, params[`${name}.weight`]!, dy, T, d, eps).dx;
  const dhidden = matmulRef(dlogits, head(cfg, params), T, V, d);
  let dh = normBack(tape.final, dhidden, 'gpt_neox.final_layer_norm');
  for (let l = cfg.nLayer - 1; l >= 0; l--) {
    const p = `gpt_neox.layers.${l}.`;
    const b = tape.blocks[l]!;
    // dh is the gradient of the block's output: the MLP's output and (through the
    // residual) its residual input both receive it.
    const dpre = activation(cfg).df(b.pre, linearBack(b.act, dh, `${p}mlp.dense_4h_to_h`));
    const dmid = add(dh, normBack(b.mid, linearBack(b.n2, dpre, `${p}mlp.dense_h_to_4h`), `${p}post_attention_layernorm`));
    // Parallel: attention's output is added to the block's output, so its gradient is
    // dh; the residual h gets dh plus the MLP branch's (dmid already holds both).
    const dattn = cfg.parallel ? dh : dmid;
    const dz = linearBack(b.z, dattn, `${p}attention.dense`);
    const dqkv = rotaryRef(gqaAttentionBackwardRef(b.qkvRot, dz, T, H, H, hd), tape.rot, tape.positions, tape.invFreq, -1);
    const dn1 = linearBack(b.n1, splitHeads(dqkv, T, H, hd, true), `${p}attention.query_key_value`);
    dh = add(dmid, normBack(b.h, dn1, `${p}input_layernorm`));
  }
  return { loss, logits: tape.logits, factors };
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}
