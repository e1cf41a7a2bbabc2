// Float64 CPU references for every engine kernel, written straight from the
// equations. Kernel tests compare against these, so they favour obviousness over
// speed: plain loops, no blocking, no fused tricks. All matrices are row-major.

type Vec = ArrayLike<number>;

/** mulberry32: a tiny 32-bit PRNG, uniform in [0, 1); enough for reproducible test data. */
export function mulberry32Ref(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [−halfWidth, halfWidth), rounded to float32 so a GPU copy is exact. */
export function randomArrayRef(n: number, seed: number, halfWidth = 1): Float64Array {
  const rand = mulberry32Ref(seed);
  return Float64Array.from({ length: n }, () => Math.fround((2 * rand() - 1) * halfWidth));
}

/**
 * Deterministic parameters for `shapes`, drawn in their order, uniform with standard
 * deviation `std`; gains (isGain) 1 ± 0.1 so a kernel that ignores them fails.
 * Rounded to float32.
 */
export function randomParamsRef(shapes: Record<string, number[]>, seed: number, std: number, isGain: (name: string) => boolean): Record<string, Float64Array> {
  const rand = mulberry32Ref(seed);
  const params: Record<string, Float64Array> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const draw = isGain(name) ? () => 1 + (2 * rand() - 1) * 0.1 : () => (2 * rand() - 1) * std * Math.sqrt(3);
    params[name] = Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(draw()));
  }
  return params;
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Vec;
}

/** C[M,N] = op(A)·op(B) (+ bias[N] on every row). transA: `a` is stored [K,M]; transB: `b` is stored [N,K]. */
export function matmulRef(a: Vec, b: Vec, M: number, K: number, N: number, opts: MatmulOptions = {}): Float64Array {
  const { transA = false, transB = false, bias } = opts;
  expectLength('matmulRef a', a, M * K);
  expectLength('matmulRef b', b, K * N);
  if (bias) expectLength('matmulRef bias', bias, N);
  const at = (i: number, k: number) => (transA ? a[k * M + i] : a[i * K + k]);
  const bt = (k: number, j: number) => (transB ? b[j * K + k] : b[k * N + j]);
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      for (let k = 0; k < K; k++) s += at(i, k) * bt(k, j);
      c[i * N + j] = s;
    }
  }
  return c;
}

// gelu_new (Hugging Face GPT-2): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

export function geluRef(x: Vec): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v)));
  }
  return y;
}

export function geluBackwardRef(x: Vec, dy: Vec): Float64Array {
  expectLength('geluBackwardRef dy', dy, x.length);
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
    const dudx = GELU_C * (1 + 3 * GELU_A * v * v);
    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dudx);
  }
  return dx;
}

/**
 * erf in float64: its Maclaurin series below |x| = 2 (cancellation among its
 * alternating terms costs under 1e-15 there), the continued fraction of erfc above
 * (60 terms reach full precision from x = 2 on).
 */
export function erfRef(x: number): number {
  const a = Math.abs(x);
  if (a < 2) {
    let term = a;
    let sum = a;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), summed from the tail.
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}

// gelu (Hugging Face's exact GELU): x·Φ(x) = 0.5·x·(1 + erf(x/√2)); derivative Φ(x) + x·φ(x).
export function geluErfRef(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2)));
}

export function geluErfBackwardRef(x: Vec, dy: Vec): Float64Array {
  expectLength('geluErfBackwardRef dy', dy, x.length);
  return Float64Array.from(x, (v, i) => dy[i] * (0.5 * (1 + erfRef(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)));
}

// relu: max(x, 0); its derivative is taken as 0 at x = 0, as PyTorch does.
export function reluRef(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => Math.max(v, 0));
}

export function reluBackwardRef(x: Vec, dy: Vec): Float64Array {
  expectLength('reluBackwardRef dy', dy, x.length);
  return Float64Array.from(x, (v, i) => (v > 0 ? dy[i] : 0));
}

export interface LayernormResult {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

/** Per row: y = (x − mean)·rstd·γ + β with the biased variance and rstd = 1/√(var + eps). */
export function layernormRef(x: Vec, rows: number, cols: number, gamma: Vec, beta: Vec, eps: number): LayernormResult {
  expectLength('layernormRef x', x, rows * cols);
  expectLength('layernormRef gamma', gamma, cols);
  expectLength('layernormRef beta', beta, cols);
  const y = new Float64Array(rows * cols);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const { mu, rs } = rowStats(x, o, cols, eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) y[o + c] = (x[o + c] - mu) * rs * gamma[c] + beta[c];
  }
  return { y, mean, rstd };
}

export function layernormBackwardRef(
  x: Vec, gamma: Vec, dy: Vec, rows: number, cols: number, eps: number,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  expectLength('layernormBackwardRef x', x, rows * cols);
  expectLength('layernormBackwardRef dy', dy, rows * cols);
  expectLength('layernormBackwardRef gamma', gamma, cols);
  const dx = new Float64Array(rows * cols);
  const dgamma = new Float64Array(cols);
  const dbeta = new Float64Array(cols);
  const xhat = new Float64Array(cols);
  const g = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const { mu, rs } = rowStats(x, o, cols, eps);
    // With x̂ = (x − μ)·rstd and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)).
    let meanG = 0;
    let meanGX = 0;
    for (let c = 0; c < cols; c++) {
      xhat[c] = (x[o + c] - mu) * rs;
      g[c] = dy[o + c] * gamma[c];
      meanG += g[c];
      meanGX += g[c] * xhat[c];
      dgamma[c] += dy[o + c] * xhat[c];
      dbeta[c] += dy[o + c];
    }
    meanG /= cols;
    meanGX /= cols;
    for (let c = 0; c < cols; c++) dx[o + c] = rs * (g[c] - meanG - xhat[c] * meanGX);
  }
  return { dx, dgamma, dbeta };
}

function rowStats(x: Vec, o: number, cols: number, eps: number): { mu: number; rs: number } {
  let mu = 0;
  for (let c = 0; c < cols; c++) mu += x[o + c];
  mu /= cols;
  let variance = 0;
  for (let c = 0; c < cols; c++) variance += (x[o + c] - mu) ** 2;
  variance /= cols;
  return { mu, rs: 1 / Math.sqrt(variance + eps) };
}

// Attention over qkv [T, 3d] in Hugging Face's c_attn column order: q | k | v, each
// split into nHead consecutive blocks of headDim columns.

/** Causal softmax weights P[i, j] (j ≤ i, zero above the diagonal) of one head, [T,T]. */
function attentionProbs(qkv: Vec, T: number, d: number, h: number, headDim: number): Float64Array {
  const scale = 1 / Math.sqrt(headDim);
  const w = 3 * d;
  const p = new Float64Array(T * T);
  for (let i = 0; i < T; i++) {
    let max = -Infinity;
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let e = 0; e < headDim; e++) s += qkv[i * w + h * headDim + e] * qkv[j * w + d + h * headDim + e];
      p[i * T + j] = s * scale;
      max = Math.max(max, p[i * T + j]);
    }
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      p[i * T + j] = Math.exp(p[i * T + j] - max);
      sum += p[i * T + j];
    }
    for (let j = 0; j <= i; j++) p[i * T + j] /= sum;
  }
  return p;
}

export function attentionRef(qkv: Vec, T: number, nHead: number, headDim: number): Float64Array {
  const d = nHead * headDim;
  expectLength('attentionRef qkv', qkv, T * 3 * d);
  const out = new Float64Array(T * d);
  for (let h = 0; h < nHead; h++) {
    const p = attentionProbs(qkv, T, d, h, headDim);
    for (let i = 0; i < T; i++) {
      for (let e = 0; e < headDim; e++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += p[i * T + j] * qkv[j * 3 * d + 2 * d + h * headDim + e];
        out[i * d + h * headDim + e] = s;
      }
    }
  }
  return out;
}

export function attentionBackwardRef(qkv: Vec, dout: Vec, T: number, nHead: number, headDim: number): Float64Array {
  const d = nHead * headDim;
  const w = 3 * d;
  expectLength('attentionBackwardRef qkv', qkv, T * w);
  expectLength('attentionBackwardRef dout', dout, T * d);
  const scale = 1 / Math.sqrt(headDim);
  const dqkv = new Float64Array(T * w);
  const dp = new Float64Array(T);
  for (let h = 0; h < nHead; h++) {
    const p = attentionProbs(qkv, T, d, h, headDim);
    const hc = h * headDim;
    const q = hc;
    const k = d + hc;
    const v = 2 * d + hc;
    for (let i = 0; i < T; i++) {
      // dP[i,j] = dout_i·v_j; softmax VJP: dS[i,j] = P[i,j]·(dP[i,j] − Σ_j' P[i,j']·dP[i,j']).
      let pdp = 0;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let e = 0; e < headDim; e++) s += dout[i * d + hc + e] * qkv[j * w + v + e];
        dp[j] = s;
        pdp += p[i * T + j] * s;
      }
      for (let j = 0; j <= i; j++) {
        const pij = p[i * T + j];
        const ds = pij * (dp[j] - pdp) * scale;
        for (let e = 0; e < headDim; e++) {
          dqkv[i * w + q + e] += ds * qkv[j * w + k + e];
          dqkv[j * w + k + e] += ds * qkv[i * w + q + e];
          dqkv[j * w + v + e] += pij * dout[i * d + hc + e];
        }
      }
    }
  }
  return dqkv;
}

/**
 * Per row r: lse_r = log Σ_v exp(logits[r,v]) and loss_r = lse_r − logits[r, t_r].
 * A target of −1 ignores the row (loss 0); its lse is still reported.
 */
export function softmaxXentRef(
  logits: Vec, rows: number, V: number, targets: Vec,
): { loss: Float64Array; lse: Float64Array } {
  expectLength('softmaxXentRef logits', logits, rows * V);
  expectLength('softmaxXentRef targets', targets, rows);
  const loss = new Float64Array(rows);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    lse[r] = logSumExp(logits, r * V, V);
    const t = checkTarget(targets[r], V);
    if (t >= 0) loss[r] = lse[r] - logits[r * V + t];
  }
  return { loss, lse };
}

/** dlogits[r] = (softmax(logits[r]) − onehot(t_r))·dloss_r; zero for ignored rows. */
export function softmaxXentBackwardRef(logits: Vec, rows: number, V: number, targets: Vec, dloss: Vec): Float64Array {
  expectLength('softmaxXentBackwardRef logits', logits, rows * V);
  expectLength('softmaxXentBackwardRef targets', targets, rows);
  expectLength('softmaxXentBackwardRef dloss', dloss, rows);
  const dlogits = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++) {
    const t = checkTarget(targets[r], V);
    if (t < 0) continue;
    const lse = logSumExp(logits, r * V, V);
    for (let v = 0; v < V; v++) dlogits[r * V + v] = Math.exp(logits[r * V + v] - lse) * dloss[r];
    dlogits[r * V + t] -= dloss[r];
  }
  return dlogits;
}

/** softmax of one vector, shifted by its log-sum-exp so large scores do not overflow. */
export function softmaxRef(x: Vec): Float64Array {
  const lse = logSumExp(x, 0, x.length);
  return Float64Array.from(x, (v) => Math.exp(v - lse));
}

function logSumExp(x: Vec, o: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[o + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(x[o + i] - max);
  return max + Math.log(sum);
}

function checkTarget(t: number, V: number): number {
  if (t !== -1 && !(Number.isInteger(t) && t >= 0 && t < V)) throw new RangeError(`target ${t} outside [0, ${V}) and not -1`);
  return t;
}

/** out[t] = wte[ids[t]] + wpe[t], [T,d]. */
export function embeddingRef(ids: Vec, wte: Vec, wpe: Vec, d: number): Float64Array {
  const T = ids.length;
  const V = wte.length / d;
  if (T * d > wpe.length) throw new RangeError(`embeddingRef: ${T} positions but wpe holds ${wpe.length / d}`);
  const out = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const id = checkId(ids[t], V);
    for (let c = 0; c < d; c++) out[t * d + c] = wte[id * d + c] + wpe[t * d + c];
  }
  return out;
}

/** Scatter-add of dout [T,d] into dwte[V,d] (repeated ids accumulate) and dwpe[nPositions,d]. */
export function embeddingBackwardRef(
  ids: Vec, dout: Vec, V: number, nPositions: number, d: number,
): { dwte: Float64Array; dwpe: Float64Array } {
  const T = ids.length;
  expectLength('embeddingBackwardRef dout', dout, T * d);
  if (T > nPositions) throw new RangeError(`embeddingBackwardRef: ${T} positions > nPositions ${nPositions}`);
  const dwte = new Float64Array(V * d);
  const dwpe = new Float64Array(nPositions * d);
  for (let t = 0; t < T; t++) {
    const id = checkId(ids[t], V);
    for (let c = 0; c < d; c++) {
      dwte[id * d + c] += dout[t * d + c];
      dwpe[t * d + c] += dout[t * d + c];
    }
  }
  return { dwte, dwpe };
}

function checkId(id: number, V: number): number {
  if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new RangeError(`token id ${id} outside [0, ${V})`);
  return id;
}

export type RankOrder = 'top' | 'bottom';

/** True when index i comes strictly before j: better score first, lower index on ties. */
function before(scores: Vec, i: number, j: number, which: RankOrder): boolean {
  const a = scores[i];
  const b = scores[j];
  if (a !== b) return which === 'top' ? a > b : a < b;
  return i < j;
}

/** The k best indices, best first (top: largest scores; bottom: smallest), ties to the lower index. */
export function topkRef(scores: Vec, k: number, which: RankOrder): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((i, j) => (before(scores, i, j, which) ? -1 : 1));
  return idx.slice(0, Math.min(k, idx.length));
}

/** 0-based position of `id` in topkRef's ordering (0 = the best). */
export function rankRef(scores: Vec, id: number, which: RankOrder): number {
  checkId(id, scores.length);
  let rank = 0;
  for (let j = 0; j < scores.length; j++) if (before(scores, j, id, which)) rank++;
  return rank;
}

export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, as torch increments it before the update. */
  step: number;
}

/** One torch.optim.AdamW step (decoupled decay applied before the Adam update). Inputs are not modified. */
export function adamwRef(
  p: Vec, g: Vec, m: Vec, v: Vec, hp: AdamwHyper,
): { p: Float64Array; m: Float64Array; v: Float64Array } {
  const n = p.length;
  expectLength('adamwRef g', g, n);
  expectLength('adamwRef m', m, n);
  expectLength('adamwRef v', v, n);
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const pOut = new Float64Array(n);
  const mOut = new Float64Array(n);
  const vOut = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    mOut[i] = beta1 * m[i] + (1 - beta1) * g[i];
    vOut[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    const decayed = p[i] - lr * weightDecay * p[i];
    pOut[i] = decayed - (lr * (mOut[i] / bc1)) / (Math.sqrt(vOut[i] / bc2) + eps);
  }
  return { p: pOut, m: mOut, v: vOut };
}

function expectLength(what: string, x: Vec, n: number): void {
  if (x.length !== n) throw new RangeError(`${what}: length ${x.length}, expected ${n}`);
}
