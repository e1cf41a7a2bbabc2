// Float64 Llama / Mistral / Qwen2 (Hugging Face LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM) forward and backward, written from modeling_llama.py's equations
// and independent of the engine: pre-norm blocks h + o_proj(attn(input_layernorm(h))),
// then h + down_proj(silu(gate_proj(n)) * up_proj(n)) with n = post_attention_layernorm(h);
// RMSNorm y = w * x / sqrt(mean(x^2) + eps); rotary in the rotate_half convention
// (dimension i pairs with i + headDim/2, both at frequency inv_freq[i]); grouped-query
// attention through repeat_kv (query head h reads key/value head floor(h / (H/KV)));
// final model.norm, then lm_head (or the embedding when tied). Parameters carry HF's
// names and nn.Linear's [out, in] layout. Built on the Llama-family op references
// (llama-ops.ts), which take q|k|v and gate|up rows side by side. Mistral's window is
// not modelled: within it, a sequence sees what full causal attention sees.
import {
  gqaAttentionBackwardRef, gqaAttentionRef, rmsnormBackwardRef, rmsnormRef, ropeInvFreqRef, rotaryRef, siluGateBackwardRef, siluGateRef, type RopeScalingRef,
} from './llama-ops';
import { matmulRef, randomParamsRef, softmaxXentBackwardRef, softmaxXentRef } from './ops';

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
  return randomParamsRef(llamaParamShapesRef(cfg), seed, std, (name) => /(layernorm|model\.norm)\.weight$/.test(name));
}

/** Columns [from, from + n) of every row of x [T, width]. */
function columns(x: Float64Array, T: number, width: number, from: number, n: number): Float64Array {
  const out = new Float64Array(T * n);
  for (let t = 0; t < T; t++) out.set(x.subarray(t * width + from, t * width + from + n), t * n);
  return out;
}

/** Rows of the parts side by side: [a_t | b_t | ...] for every t. */
function concatColumns(T: number, parts: readonly [Float64Array, number][]): Float64Array {
  const width = parts.reduce((w, [, n]) => w + n, 0);
  const out = new Float64Array(T * width);
  let at = 0;
  for (const [x, n] of parts) {
    for (let t = 0; t < T; t++) out.set(x.subarray(t * n, (t + 1) * n), t * width + at);
    at += n;
  }
  return out;
}

interface BlockTapeRef {
  h: Float64Array; // residual entering the block
  n1: Float64Array; // q/k/v input
  qkvRot: Float64Array; // [q | k | v] rows, q and k rotated
  z: Float64Array; // o_proj input
  mid: Float64Array;
  n2: Float64Array; // gate/up input
  gu: Float64Array; // [gate | up] rows
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
  const invFreq = ropeInvFreqRef(hd, cfg.ropeTheta, cfg.ropeScaling);
  const positions = ids.map((_, t) => t);
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
    const n1 = rmsnormRef(h, T, d, params[`${p}input_layernorm.weight`]!, eps);
    const qkv = concatColumns(T, [[linear(n1, `${p}self_attn.q_proj`), H * hd], [linear(n1, `${p}self_attn.k_proj`), KV * hd], [linear(n1, `${p}self_attn.v_proj`), KV * hd]]);
    const qkvRot = rotaryRef(qkv, qkvShape(cfg, T), positions, invFreq);
    const z = gqaAttentionRef(qkvRot, T, H, KV, hd);
    const mid = add(h, linear(z, `${p}self_attn.o_proj`));
    const n2 = rmsnormRef(mid, T, d, params[`${p}post_attention_layernorm.weight`]!, eps);
    const gu = concatColumns(T, [[linear(n2, `${p}mlp.gate_proj`), cfg.nInner], [linear(n2, `${p}mlp.up_proj`), cfg.nInner]]);
    const act = siluGateRef(gu, T, cfg.nInner);
    blocks.push({ h, n1, qkvRot, z, mid, n2, gu, act });
    h = add(mid, linear(act, `${p}mlp.down_proj`));
  }
  const hidden = rmsnormRef(h, T, d, params['model.norm.weight']!, eps);
  const logits = matmulRef(hidden, head(cfg, params), T, d, cfg.vocabSize, { transB: true });
  return { blocks, final: h, hidden, logits };
}

/** q and k heads rotate, from column 0 of the fused row; v passes through. */
const qkvShape = (cfg: LlamaConfigRef, T: number) => ({ rows: T, width: (cfg.nHead + 2 * cfg.nKvHead) * cfg.headDim, heads: cfg.nHead + cfg.nKvHead, headDim: cfg.headDim, rotaryDim: cfg.headDim });

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
  const { nEmbd: d, nHead: H, nKvHead: KV, headDim: hd, nInner: f, eps, vocabSize: V } = cfg;
  const invFreq = ropeInvFreqRef(hd, cfg.ropeTheta, cfg.ropeScaling);
  const positions = ids.map((_, t) => t);
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
  let dh = rmsnormBackwardRef(tape.final, params['model.norm.weight']!, dhidden, T, d, eps).dx;
  for (let l = cfg.nLayer - 1; l >= 0; l--) {
    const p = `model.layers.${l}.`;
    const b = tape.blocks[l]!;
    const dact = linearBack(b.act, dh, `${p}mlp.down_proj`);
    const dgu = siluGateBackwardRef(b.gu, dact, T, f);
    const dn2 = add(linearBack(b.n2, columns(dgu, T, 2 * f, 0, f), `${p}mlp.gate_proj`), linearBack(b.n2, columns(dgu, T, 2 * f, f, f), `${p}mlp.up_proj`));
    const dmid = add(dh, rmsnormBackwardRef(b.mid, params[`${p}post_attention_layernorm.weight`]!, dn2, T, d, eps).dx);
    const dz = linearBack(b.z, dmid, `${p}self_attn.o_proj`);
    // q and k's deltas are taken before the rotation: the rotation's transpose turns them back.
    const dqkv = rotaryRef(gqaAttentionBackwardRef(b.qkvRot, dz, T, H, KV, hd), qkvShape(cfg, T), positions, invFreq, -1);
    const w = (H + 2 * KV) * hd;
    const dn1 = [
      linearBack(b.n1, columns(dqkv, T, w, 0, H * hd), `${p}self_attn.q_proj`),
      linearBack(b.n1, columns(dqkv, T, w, H * hd, KV * hd), `${p}self_attn.k_proj`),
      linearBack(b.n1, columns(dqkv, T, w, (H + KV) * hd, KV * hd), `${p}self_attn.v_proj`),
    ].reduce(add);
    dh = add(dmid, rmsnormBackwardRef(b.h, params[`${p}input_layernorm.weight`]!, dn1, T, d, eps).dx);
  }
  return { loss, logits: tape.logits, factors };
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}
