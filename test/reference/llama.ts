// Float64 Llama / Mistral / Qwen2 (Hugging Face LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM) forward and backward, written from modeling_llama.py's equations
// and independent of the engine: pre-norm blocks h + o_proj(attn(input_layernorm(h))),
// then h + down_proj(silu(gate_proj(n)) * up_proj(n)) with n = post_attention_layernorm(h);
// RMSNorm y = w * x / sqrt(mean(x^2) + eps); rotary in the rotate_half convention
// (dimension i pairs with i + headDim/2, both at frequency inv_freq[i]); grouped-query
// attention through repeat_kv (query head h reads key/value head floor(h / (H/KV)));
// final model.norm, then lm_head (or the embedding when tied). Parameters carry HF's
// names and nn.Linear's [out, in] layout. Mistral's window is not modelled: within it,
// a sequence sees what full causal attention sees.
import { matmulRef, mulberry32Ref, softmaxXentBackwardRef, softmaxXentRef } from './ops';

export type RopeScalingRef =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface LlamaConfigRef {
  nLayer: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  nEmbd: number;
  nInner: number;
  vocabSize: number;
  eps: number;
  ropeTheta: number;
  ropeScaling: RopeScalingRef;
  /** lm_head is the embedding (no lm_head.weight). */
  tied: boolean;
  /** Biases: Llama's attention_bias (q, k, v, o) and mlp_bias; Qwen2 has q, k, v only. */
  bias: { qkv: boolean; o: boolean; mlp: boolean };
}

export type LlamaParamsRef = Record<string, Float64Array>;

export interface LlamaTargetRef {
  position: number;
  token: number;
}

/** Low-rank gradient of one linear module: Σ_t δ_tᵀ x_t is its [out, in] weight gradient. */
export interface LlamaFactorsRef {
  x: Float64Array;
  delta: Float64Array;
  rows: number;
  inDim: number;
  outDim: number;
}

/** The linear modules of a block, as suffixes of `model.layers.{l}.`. */
export const LLAMA_LINEARS_REF = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'] as const;

function linearDims(cfg: LlamaConfigRef, module: string): [inDim: number, outDim: number, bias: boolean] {
  const { nEmbd: d, nInner: f, headDim: hd } = cfg;
  switch (module) {
    case 'self_attn.q_proj': return [d, cfg.nHead * hd, cfg.bias.qkv];
    case 'self_attn.k_proj':
    case 'self_attn.v_proj': return [d, cfg.nKvHead * hd, cfg.bias.qkv];
    case 'self_attn.o_proj': return [cfg.nHead * hd, d, cfg.bias.o];
    case 'mlp.gate_proj':
    case 'mlp.up_proj': return [d, f, cfg.bias.mlp];
    default: return [f, d, cfg.bias.mlp];
  }
}

/** Every parameter's HF name and shape, in a fixed order (the order randomLlamaParamsRef draws them). */
export function llamaParamShapesRef(cfg: LlamaConfigRef): Record<string, number[]> {
  const d = cfg.nEmbd;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [cfg.vocabSize, d] };
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `model.layers.${l}.`;
    shapes[`${p}input_layernorm.weight`] = [d];
    shapes[`${p}post_attention_layernorm.weight`] = [d];
    for (const m of LLAMA_LINEARS_REF) {
      const [inDim, outDim, bias] = linearDims(cfg, m);
      shapes[`${p}${m}.weight`] = [outDim, inDim];
      if (bias) shapes[`${p}${m}.bias`] = [outDim];
    }
  }
  shapes['model.norm.weight'] = [d];
  if (!cfg.tied) shapes['lm_head.weight'] = [cfg.vocabSize, d];
  return shapes;
}

/**
 * Deterministic random parameters, uniform with standard deviation `std`; norm
 * weights 1 ± 0.1 so a kernel that ignores them fails. Rounded to float32.
 */
export function randomLlamaParamsRef(cfg: LlamaConfigRef, seed: number, std = 0.3): LlamaParamsRef {
  const rand = mulberry32Ref(seed);
  const params: LlamaParamsRef = {};
  for (const [name, shape] of Object.entries(llamaParamShapesRef(cfg))) {
    const draw = /(layernorm|model\.norm)\.weight$/.test(name) ? () => 1 + (2 * rand() - 1) * 0.1 : () => (2 * rand() - 1) * std * Math.sqrt(3);
    params[name] = Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(draw()));
  }
  return params;
}

/** inv_freq[i] = θ^(−2i/headDim), rescaled as rope_scaling says (HF's _compute_*_parameters). */
export function ropeInvFreqRef(cfg: Pick<LlamaConfigRef, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = cfg.headDim / 2;
  const base = Float64Array.from({ length: half }, (_, i) => 1 / cfg.ropeTheta ** ((2 * i) / cfg.headDim));
  const s = cfg.ropeScaling;
  if (s.type === 'none') return base;
  if (s.type === 'linear') return base.map((f) => f / s.factor);
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositions / s.highFreqFactor;
  return base.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/**
 * Rotates every head of x [T, heads·hd] in place of a copy: out_i = x_i cos − x_{i+h} sin,
 * out_{i+h} = x_{i+h} cos + x_i sin at angle t·inv_freq[i]; `inverse` applies the transpose
 * (the backward).
 */
function rope(x: Float64Array, T: number, heads: number, hd: number, invFreq: Float64Array, inverse = false): Float64Array {
  const out = new Float64Array(x.length);
  const h = hd / 2;
  for (let t = 0; t < T; t++) {
    for (let head = 0; head < heads; head++) {
      const o = t * heads * hd + head * hd;
      for (let i = 0; i < h; i++) {
        const c = Math.cos(t * invFreq[i]!);
        const s = (inverse ? -1 : 1) * Math.sin(t * invFreq[i]!);
        const [a, b] = [x[o + i]!, x[o + i + h]!];
        out[o + i] = a * c - b * s;
        out[o + i + h] = b * c + a * s;
      }
    }
  }
  return out;
}

function rmsnorm(x: Float64Array, w: Float64Array, T: number, d: number, eps: number): Float64Array {
  const y = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    let ms = 0;
    for (let j = 0; j < d; j++) ms += x[t * d + j]! ** 2;
    const r = 1 / Math.sqrt(ms / d + eps);
    for (let j = 0; j < d; j++) y[t * d + j] = w[j]! * x[t * d + j]! * r;
  }
  return y;
}

/** dx of y = w ⊙ x · r with r = (mean(x²) + eps)^(−1/2): r·(w ⊙ dy) − x·r³/d·Σ_j w_j dy_j x_j. */
function rmsnormBackward(x: Float64Array, w: Float64Array, dy: Float64Array, T: number, d: number, eps: number): Float64Array {
  const dx = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    let ms = 0;
    let dot = 0;
    for (let j = 0; j < d; j++) {
      ms += x[t * d + j]! ** 2;
      dot += w[j]! * dy[t * d + j]! * x[t * d + j]!;
    }
    const r = 1 / Math.sqrt(ms / d + eps);
    for (let j = 0; j < d; j++) dx[t * d + j] = r * w[j]! * dy[t * d + j]! - (x[t * d + j]! * r ** 3 * dot) / d;
  }
  return dx;
}

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

/** Causal softmax attention probabilities p[head][i][j] (j ≤ i) of rotated q, k; query head h reads kv head ⌊h / (H/KV)⌋. */
function attentionProbs(cfg: LlamaConfigRef, q: Float64Array, k: Float64Array, T: number): Float64Array[] {
  const { nHead: H, nKvHead: KV, headDim: hd } = cfg;
  const group = H / KV;
  const scale = 1 / Math.sqrt(hd);
  return Array.from({ length: H }, (_, h) => {
    const kvh = Math.floor(h / group);
    const p = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let c = 0; c < hd; c++) s += q[i * H * hd + h * hd + c]! * k[j * KV * hd + kvh * hd + c]!;
        p[i * T + j] = s * scale;
        max = Math.max(max, s * scale);
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += p[i * T + j] = Math.exp(p[i * T + j]! - max);
      for (let j = 0; j <= i; j++) p[i * T + j]! /= sum;
    }
    return p;
  });
}

interface BlockTapeRef {
  h: Float64Array; // residual entering the block
  n1: Float64Array; // q/k/v input
  qRot: Float64Array;
  kRot: Float64Array;
  v: Float64Array;
  p: Float64Array[];
  z: Float64Array; // o_proj input
  mid: Float64Array;
  n2: Float64Array; // gate/up input
  gate: Float64Array;
  up: Float64Array;
  act: Float64Array; // down_proj input
}

interface ForwardTapeRef {
  blocks: BlockTapeRef[];
  final: Float64Array;
  hidden: Float64Array;
  logits: Float64Array;
}

function checkParams(cfg: LlamaConfigRef, params: LlamaParamsRef): void {
  if (cfg.nHead % cfg.nKvHead !== 0) throw new RangeError(`nHead ${cfg.nHead} is not a multiple of nKvHead ${cfg.nKvHead}`);
  for (const [name, shape] of Object.entries(llamaParamShapesRef(cfg))) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (params[name]?.length !== n) throw new RangeError(`parameter ${name}: expected [${shape}]`);
  }
}

function forwardTape(cfg: LlamaConfigRef, params: LlamaParamsRef, ids: readonly number[]): ForwardTapeRef {
  checkParams(cfg, params);
  const T = ids.length;
  const { nEmbd: d, nHead: H, nKvHead: KV, headDim: hd, eps } = cfg;
  const invFreq = ropeInvFreqRef(cfg);
  const linear = (x: Float64Array, name: string) => {
    const [inDim, outDim] = linearDims(cfg, name.replace(/^model\.layers\.\d+\./, ''));
    return matmulRef(x, params[`${name}.weight`]!, T, inDim, outDim, { transB: true, bias: params[`${name}.bias`] });
  };
  const emb = params['model.embed_tokens.weight']!;
  let h: Float64Array = new Float64Array(T * d);
  ids.forEach((id, t) => h.set(emb.subarray(id * d, (id + 1) * d), t * d));
  const blocks: BlockTapeRef[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `model.layers.${l}.`;
    const n1 = rmsnorm(h, params[`${p}input_layernorm.weight`]!, T, d, eps);
    const qRot = rope(linear(n1, `${p}self_attn.q_proj`), T, H, hd, invFreq);
    const kRot = rope(linear(n1, `${p}self_attn.k_proj`), T, KV, hd, invFreq);
    const v = linear(n1, `${p}self_attn.v_proj`);
    const probs = attentionProbs(cfg, qRot, kRot, T);
    const z = new Float64Array(T * H * hd);
    for (let head = 0; head < H; head++) {
      const kvh = Math.floor(head / (H / KV));
      for (let i = 0; i < T; i++) {
        for (let j = 0; j <= i; j++) {
          const pij = probs[head]![i * T + j]!;
          for (let c = 0; c < hd; c++) z[i * H * hd + head * hd + c] += pij * v[j * KV * hd + kvh * hd + c]!;
        }
      }
    }
    const mid = add(h, linear(z, `${p}self_attn.o_proj`));
    const n2 = rmsnorm(mid, params[`${p}post_attention_layernorm.weight`]!, T, d, eps);
    const gate = linear(n2, `${p}mlp.gate_proj`);
    const up = linear(n2, `${p}mlp.up_proj`);
    const act = gate.map((g, i) => g * sigmoid(g) * up[i]!);
    blocks.push({ h, n1, qRot, kRot, v, p: probs, z, mid, n2, gate, up, act });
    h = add(mid, linear(act, `${p}mlp.down_proj`));
  }
  const hidden = rmsnorm(h, params['model.norm.weight']!, T, d, eps);
  const logits = matmulRef(hidden, head(cfg, params), T, d, cfg.vocabSize, { transB: true });
  return { blocks, final: h, hidden, logits };
}

const head = (cfg: LlamaConfigRef, params: LlamaParamsRef) => (cfg.tied ? params['model.embed_tokens.weight']! : params['lm_head.weight']!);

/** logits [T, V] and the final hidden states [T, d] (after model.norm). */
export function llamaForwardRef(cfg: LlamaConfigRef, params: LlamaParamsRef, ids: readonly number[]): { logits: Float64Array; hidden: Float64Array } {
  const { logits, hidden } = forwardTape(cfg, params, ids);
  return { logits, hidden };
}

/**
 * loss = Σ over targets of −log softmax(logits[position])[token]; every linear module's
 * factors under its HF name without `.weight` (`model.layers.0.mlp.down_proj`): x = its
 * inputs [T, in], delta = ∂loss/∂(its outputs) [T, out] (q and k before the rotation).
 */
export function llamaBackwardRef(
  cfg: LlamaConfigRef, params: LlamaParamsRef, ids: readonly number[], targets: readonly LlamaTargetRef[],
): { loss: number; logits: Float64Array; factors: Record<string, LlamaFactorsRef> } {
  const tape = forwardTape(cfg, params, ids);
  const T = ids.length;
  const { nEmbd: d, nHead: H, nKvHead: KV, headDim: hd, eps, vocabSize: V } = cfg;
  const invFreq = ropeInvFreqRef(cfg);
  let loss = 0;
  const dlogits = new Float64Array(T * V);
  for (const { position, token } of targets) {
    if (!(Number.isInteger(position) && position >= 0 && position < T)) throw new RangeError(`target position ${position} outside [0, ${T})`);
    const row = tape.logits.subarray(position * V, (position + 1) * V);
    loss += softmaxXentRef(row, 1, V, [token]).loss[0]!;
    softmaxXentBackwardRef(row, 1, V, [token], [1]).forEach((g, v) => (dlogits[position * V + v] += g));
  }
  const factors: Record<string, LlamaFactorsRef> = {};
  const linearBack = (x: Float64Array, delta: Float64Array, name: string) => {
    const [inDim, outDim] = linearDims(cfg, name.replace(/^model\.layers\.\d+\./, ''));
    factors[name] = { x, delta, rows: T, inDim, outDim };
    return matmulRef(delta, params[`${name}.weight`]!, T, outDim, inDim);
  };
  const dhidden = matmulRef(dlogits, head(cfg, params), T, V, d);
  let dh = rmsnormBackward(tape.final, params['model.norm.weight']!, dhidden, T, d, eps);
  for (let l = cfg.nLayer - 1; l >= 0; l--) {
    const p = `model.layers.${l}.`;
    const b = tape.blocks[l]!;
    const dact = linearBack(b.act, dh, `${p}mlp.down_proj`);
    const dgate = b.gate.map((g, i) => dact[i]! * b.up[i]! * sigmoid(g) * (1 + g * (1 - sigmoid(g))));
    const dup = b.gate.map((g, i) => dact[i]! * g * sigmoid(g));
    const dn2 = add(linearBack(b.n2, dgate, `${p}mlp.gate_proj`), linearBack(b.n2, dup, `${p}mlp.up_proj`));
    const dmid = add(dh, rmsnormBackward(b.mid, params[`${p}post_attention_layernorm.weight`]!, dn2, T, d, eps));
    const dz = linearBack(b.z, dmid, `${p}self_attn.o_proj`);
    // Attention backward per query head; key/value gradients summed over each group.
    const dq = new Float64Array(T * H * hd);
    const dk = new Float64Array(T * KV * hd);
    const dv = new Float64Array(T * KV * hd);
    const scale = 1 / Math.sqrt(hd);
    for (let head = 0; head < H; head++) {
      const kvh = Math.floor(head / (H / KV));
      const pr = b.p[head]!;
      for (let i = 0; i < T; i++) {
        const dp = new Float64Array(i + 1);
        let dot = 0;
        for (let j = 0; j <= i; j++) {
          for (let c = 0; c < hd; c++) dp[j] += dz[i * H * hd + head * hd + c]! * b.v[j * KV * hd + kvh * hd + c]!;
          dot += pr[i * T + j]! * dp[j]!;
        }
        for (let j = 0; j <= i; j++) {
          const ds = pr[i * T + j]! * (dp[j]! - dot) * scale;
          for (let c = 0; c < hd; c++) {
            dq[i * H * hd + head * hd + c] += ds * b.kRot[j * KV * hd + kvh * hd + c]!;
            dk[j * KV * hd + kvh * hd + c] += ds * b.qRot[i * H * hd + head * hd + c]!;
            dv[j * KV * hd + kvh * hd + c] += pr[i * T + j]! * dz[i * H * hd + head * hd + c]!;
          }
        }
      }
    }
    const dn1 = [
      linearBack(b.n1, rope(dq, T, H, hd, invFreq, true), `${p}self_attn.q_proj`),
      linearBack(b.n1, rope(dk, T, KV, hd, invFreq, true), `${p}self_attn.k_proj`),
      linearBack(b.n1, dv, `${p}self_attn.v_proj`),
    ].reduce(add);
    dh = add(dmid, rmsnormBackward(b.h, params[`${p}input_layernorm.weight`]!, dn1, T, d, eps));
  }
  return { loss, logits: tape.logits, factors };
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}
