// Float64 references of the Llama-family kernels (RMSNorm, rotary embeddings, the
// SiLU-gated MLP activation, grouped-query attention), written from Hugging Face's
// equations (modeling_llama.py, modeling_rope_utils.py) in plain loops. All
// matrices are row-major; gradients are the exact derivatives of these forwards.

type Vec = ArrayLike<number>;

function expectLength(what: string, x: Vec, n: number): void {
  if (x.length !== n) throw new RangeError(`${what}: length ${x.length}, expected ${n}`);
}

/** Per row: y = x / sqrt(mean(x²) + eps) · w. */
export function rmsnormRef(x: Vec, rows: number, cols: number, w: Vec, eps: number): Float64Array {
  expectLength('rmsnormRef x', x, rows * cols);
  expectLength('rmsnormRef w', w, cols);
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const rs = rmsScale(x, r * cols, cols, eps);
    for (let c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] * rs * w[c];
  }
  return y;
}

function rmsScale(x: Vec, o: number, cols: number, eps: number): number {
  let sq = 0;
  for (let c = 0; c < cols; c++) sq += x[o + c] * x[o + c];
  return 1 / Math.sqrt(sq / cols + eps);
}

/**
 * With r = (mean(x²) + eps)^-½ and ∂r/∂x_c = −r³ x_c / n:
 * dx_c = r·dy_c·w_c − r³ x_c/n · Σ_k dy_k w_k x_k;  dw_c = Σ_rows dy_c x_c r.
 */
export function rmsnormBackwardRef(x: Vec, w: Vec, dy: Vec, rows: number, cols: number, eps: number): { dx: Float64Array; dw: Float64Array } {
  expectLength('rmsnormBackwardRef dy', dy, rows * cols);
  const dx = new Float64Array(rows * cols);
  const dw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const rs = rmsScale(x, o, cols, eps);
    let s = 0;
    for (let k = 0; k < cols; k++) s += dy[o + k] * w[k] * x[o + k];
    for (let c = 0; c < cols; c++) {
      dx[o + c] = rs * dy[o + c] * w[c] - ((rs * rs * rs * x[o + c]) / cols) * s;
      dw[c] += dy[o + c] * x[o + c] * rs;
    }
  }
  return { dx, dw };
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** gu: [rows, 2f] = [gate | up] per row; h = silu(gate) · up = gate·σ(gate)·up. */
export function siluGateRef(gu: Vec, rows: number, f: number): Float64Array {
  expectLength('siluGateRef gu', gu, rows * 2 * f);
  const h = new Float64Array(rows * f);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < f; c++) {
      const g = gu[r * 2 * f + c];
      h[r * f + c] = g * sigmoid(g) * gu[r * 2 * f + f + c];
    }
  }
  return h;
}

/** d gate = dh·up·σ(g)(1 + g(1 − σ(g))),  d up = dh·silu(g). */
export function siluGateBackwardRef(gu: Vec, dh: Vec, rows: number, f: number): Float64Array {
  expectLength('siluGateBackwardRef dh', dh, rows * f);
  const dgu = new Float64Array(rows * 2 * f);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < f; c++) {
      const [gi, ui] = [r * 2 * f + c, r * 2 * f + f + c];
      const g = gu[gi];
      const s = sigmoid(g);
      dgu[gi] = dh[r * f + c] * gu[ui] * s * (1 + g * (1 - s));
      dgu[ui] = dh[r * f + c] * g * s;
    }
  }
  return dgu;
}

export type RopeScalingRef =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

/**
 * inv_freq_i = θ^(−2i/rotaryDim), i < rotaryDim/2, then scaled: linear divides every
 * frequency by the factor (positions / factor); llama3 divides those of wavelength
 * above original/lowFreqFactor, keeps those below original/highFreqFactor and blends
 * in between with s = (original/wavelength − low)/(high − low): (1 − s)·f/factor + s·f.
 */
export function ropeInvFreqRef(rotaryDim: number, theta: number, scaling: RopeScalingRef): Float64Array {
  const half = rotaryDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => theta ** (-(2 * i) / rotaryDim));
  if (scaling.type === 'linear') return inv.map((f) => f / scaling.factor);
  if (scaling.type === 'default') return inv;
  const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: old } = scaling;
  return inv.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < old / high) return f;
    if (wavelength > old / low) return f / factor;
    const s = (old / wavelength - low) / (high - low);
    return (1 - s) * (f / factor) + s * f;
  });
}

export interface RotaryShapeRef {
  rows: number;
  /** Row length of x (all heads, plus any columns after the rotated heads). */
  width: number;
  /** Heads rotated, from column 0: query heads, or query and key heads of a fused q|k|v. */
  heads: number;
  headDim: number;
  rotaryDim: number;
}

/**
 * HF's rotate_half convention: within the first rotaryDim columns of each head, the
 * pair (i, i + rotaryDim/2) is turned by position·inv_freq_i:
 *   y_i = x_i cos − x_{i+h} sin,  y_{i+h} = x_{i+h} cos + x_i sin.
 * Every other column passes through. `sign` −1 turns the other way (the backward).
 */
export function rotaryRef(x: Vec, s: RotaryShapeRef, positions: Vec, invFreq: Vec, sign = 1): Float64Array {
  return rotatePairs(x, s, positions, invFreq, sign, (i, half) => [i, i + half]);
}

/** Meta's original convention: the pair (2i, 2i + 1) turned by inv_freq_i. */
export function rotaryInterleavedRef(x: Vec, s: RotaryShapeRef, positions: Vec, invFreq: Vec): Float64Array {
  return rotatePairs(x, s, positions, invFreq, 1, (i) => [2 * i, 2 * i + 1]);
}

function rotatePairs(x: Vec, s: RotaryShapeRef, positions: Vec, invFreq: Vec, sign: number, pair: (i: number, half: number) => [number, number]): Float64Array {
  expectLength('rotary x', x, s.rows * s.width);
  expectLength('rotary positions', positions, s.rows);
  const half = s.rotaryDim / 2;
  expectLength('rotary invFreq', invFreq, half);
  const y = Float64Array.from(x);
  for (let r = 0; r < s.rows; r++) {
    for (let h = 0; h < s.heads; h++) {
      const o = r * s.width + h * s.headDim;
      for (let i = 0; i < half; i++) {
        const angle = sign * positions[r] * invFreq[i];
        const [a, b] = pair(i, half);
        const [xa, xb] = [x[o + a], x[o + b]];
        y[o + a] = xa * Math.cos(angle) - xb * Math.sin(angle);
        y[o + b] = xb * Math.cos(angle) + xa * Math.sin(angle);
      }
    }
  }
  return y;
}

/**
 * Causal grouped-query attention over fused rows [q (H heads) | k (KV heads) | v (KV heads)]
 * of width (H + 2KV)·hd; query head h reads key/value head ⌊h / (H/KV)⌋, scores
 * scaled by 1/√hd. Returns [T, H·hd].
 */
export function gqaAttentionRef(qkv: Vec, T: number, H: number, KV: number, hd: number): Float64Array {
  const g = gqaGeometry(qkv, T, H, KV, hd);
  const out = new Float64Array(T * H * hd);
  for (let h = 0; h < H; h++) {
    const p = gqaProbs(qkv, g, h);
    for (let i = 0; i < T; i++) {
      for (let e = 0; e < hd; e++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += p[i * T + j] * qkv[j * g.w + g.v(h) + e];
        out[i * H * hd + h * hd + e] = s;
      }
    }
  }
  return out;
}

/** The gradient into the fused rows; a key/value head's gradient sums over the query heads of its group. */
export function gqaAttentionBackwardRef(qkv: Vec, dout: Vec, T: number, H: number, KV: number, hd: number): Float64Array {
  const g = gqaGeometry(qkv, T, H, KV, hd);
  expectLength('gqaAttentionBackwardRef dout', dout, T * H * hd);
  const scale = 1 / Math.sqrt(hd);
  const dqkv = new Float64Array(T * g.w);
  const dp = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const p = gqaProbs(qkv, g, h);
    const [q, k, v, o] = [h * hd, g.k(h), g.v(h), h * hd];
    for (let i = 0; i < T; i++) {
      let pdp = 0;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let e = 0; e < hd; e++) s += dout[i * H * hd + o + e] * qkv[j * g.w + v + e];
        dp[j] = s;
        pdp += p[i * T + j] * s;
      }
      for (let j = 0; j <= i; j++) {
        const pij = p[i * T + j];
        const ds = pij * (dp[j] - pdp) * scale;
        for (let e = 0; e < hd; e++) {
          dqkv[i * g.w + q + e] += ds * qkv[j * g.w + k + e];
          dqkv[j * g.w + k + e] += ds * qkv[i * g.w + q + e];
          dqkv[j * g.w + v + e] += pij * dout[i * H * hd + o + e];
        }
      }
    }
  }
  return dqkv;
}

interface GqaGeometry {
  T: number;
  hd: number;
  w: number;
  k: (h: number) => number;
  v: (h: number) => number;
}

function gqaGeometry(qkv: Vec, T: number, H: number, KV: number, hd: number): GqaGeometry {
  if (H % KV !== 0) throw new RangeError(`gqa: ${H} heads do not divide into ${KV} groups`);
  const w = (H + 2 * KV) * hd;
  expectLength('gqa qkv', qkv, T * w);
  const group = (h: number) => Math.floor(h / (H / KV));
  return { T, hd, w, k: (h) => (H + group(h)) * hd, v: (h) => (H + KV + group(h)) * hd };
}

/** Causal softmax of query head h's scores, [T, T] (zero above the diagonal). */
function gqaProbs(qkv: Vec, g: GqaGeometry, h: number): Float64Array {
  const { T, hd, w } = g;
  const p = new Float64Array(T * T);
  for (let i = 0; i < T; i++) {
    let max = -Infinity;
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let e = 0; e < hd; e++) s += qkv[i * w + h * hd + e] * qkv[j * w + g.k(h) + e];
      p[i * T + j] = s / Math.sqrt(hd);
      max = Math.max(max, p[i * T + j]);
    }
    let sum = 0;
    for (let j = 0; j <= i; j++) sum += p[i * T + j] = Math.exp(p[i * T + j] - max);
    for (let j = 0; j <= i; j++) p[i * T + j] /= sum;
  }
  return p;
}
