// Checks the float64 references themselves: every backward against central finite
// differences of its forward, every forward against hand computations or an
// independent formulation, so that kernel tests can trust them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  adamwRef, attentionBackwardRef, attentionRef, embeddingBackwardRef, embeddingRef, erfRef, geluBackwardRef, geluErfBackwardRef, geluErfRef, geluRef,
  reluBackwardRef, reluRef,
  layernormBackwardRef, layernormRef, matmulRef, randomArrayRef, rankRef, softmaxRef, softmaxXentBackwardRef,
  softmaxXentRef, topkRef,
} from '../reference/ops';
import {
  GPT2_LINEARS_REF, gpt2BackwardRef, gpt2ForwardRef, gpt2ParamShapesRef, lnfLogitLensRef, randomGpt2ParamsRef,
  type Gpt2ConfigRef, type Gpt2TargetRef,
} from '../reference/gpt2';

// Central differences in float64 with step H: truncation error is O(H²·f''') ≈ 1e-10 and
// rounding error O(ε·|f|/H) ≈ 1e-11 for the O(1) losses below, so an analytic gradient
// must agree to TOL relative to the largest gradient entry of the same tensor.
const H = 1e-5;
const TOL = 1e-6;

/** Perturbs x in place (restoring it) and compares dL/dx[i] with `analytic` for every i. */
function checkGrad(label: string, loss: () => number, x: Float64Array, analytic: ArrayLike<number>): void {
  assert.is(analytic.length, x.length, `${label}: gradient length`);
  let scale = 0;
  for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(analytic[i]));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + H;
    const up = loss();
    x[i] = saved - H;
    const down = loss();
    x[i] = saved;
    const err = Math.abs((up - down) / (2 * H) - analytic[i]);
    if (err > worst) [worst, worstAt] = [err, i];
  }
  assert.ok(worst <= TOL * scale + 1e-12, `${label}: |fd − analytic| = ${worst} at ${worstAt}, max |grad| ${scale}`);
}

/** Σ out ⊙ w: a scalar whose gradient w.r.t. out is w, to test a VJP with dy = w. */
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function assertClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): void {
  assert.is(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i])), `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

test('matmul: hand example with bias', () => {
  const c = matmulRef([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], 2, 3, 2, { bias: [1, -1] });
  assertClose('C', c, [58 + 1, 64 - 1, 139 + 1, 154 - 1]);
});

test('matmul: every transpose combination equals the plain product of transposed inputs', () => {
  const [M, K, N] = [3, 7, 5];
  const A = randomArrayRef(M * K, 1);
  const B = randomArrayRef(K * N, 2);
  const bias = randomArrayRef(N, 3);
  const plain = matmulRef(A, B, M, K, N, { bias });
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const a = transA ? transpose(A, M, K) : A;
      const b = transB ? transpose(B, K, N) : B;
      assertClose(`transA=${transA} transB=${transB}`, matmulRef(a, b, M, K, N, { transA, transB, bias }), plain);
    }
  }
});

test('matmul: gradients through every transpose combination', () => {
  for (const [M, K, N] of [[3, 7, 5], [1, 3, 1]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const a = randomArrayRef(M * K, 10);
        const b = randomArrayRef(K * N, 11);
        const bias = randomArrayRef(N, 12);
        const w = randomArrayRef(M * N, 13);
        const f = () => dot(matmulRef(a, b, M, K, N, { transA, transB, bias }), w);
        // d op(A) = dC·op(B)ᵀ [M,K]; d op(B) = op(A)ᵀ·dC [K,N]; stored layouts are their transposes when flagged.
        const dOpA = matmulRef(w, b, M, N, K, { transB: !transB });
        const dOpB = matmulRef(a, w, K, M, N, { transA: !transA });
        const label = `${M}x${K}x${N} transA=${transA} transB=${transB}`;
        checkGrad(`${label} dA`, f, a, transA ? transpose(dOpA, M, K) : dOpA);
        checkGrad(`${label} dB`, f, b, transB ? transpose(dOpB, K, N) : dOpB);
        checkGrad(`${label} dbias`, f, bias, matmulRef(new Float64Array(M).fill(1), w, 1, M, N));
      }
    }
  }
});

test('gelu_new: known values and finite differences', () => {
  // PyTorch gelu(approximate='tanh') at ±1; gelu(x) − gelu(−x) = x holds exactly.
  const y = geluRef([1, -1, 0]);
  assert.ok(Math.abs(y[0] - 0.841192) < 1e-6, `gelu(1) = ${y[0]}`);
  assert.ok(Math.abs(y[0] - y[1] - 1) < 1e-15, 'gelu(1) − gelu(−1) = 1');
  assert.is(y[2], 0);
  const x = Float64Array.from([-6, -3.1, -1, -0.3, 0, 0.2, 0.9, 2.5, 7]);
  const w = randomArrayRef(x.length, 20);
  checkGrad('gelu dx', () => dot(geluRef(x), w), x, geluBackwardRef(x, w));
});

test('erf: known values to 1e-14 on both sides of the series/continued-fraction switch', () => {
  // Python's math.erf (correctly rounded C library erf).
  const known: [number, number][] = [[0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [1.99, 0.995111413199617], [2, 0.9953222650189527], [2.99, 0.9999764743969194], [3, 0.9999779095030014], [3.5, 0.9999992569016276], [6, 1]];
  for (const [x, y] of known) {
    assert.ok(Math.abs(erfRef(x) - y) < 1e-14, `erf(${x}) = ${erfRef(x)}, expected ${y}`);
    assert.is(erfRef(-x), -erfRef(x));
  }
});

test('gelu (exact, erf): known values and finite differences', () => {
  // PyTorch gelu(approximate='none'): gelu(1) = 0.8413447460685429 = Φ(1).
  const y = geluErfRef([1, -1, 0]);
  assert.ok(Math.abs(y[0] - 0.8413447460685429) < 1e-14, `gelu(1) = ${y[0]}`);
  assert.ok(Math.abs(y[0] - y[1] - 1) < 1e-15, 'gelu(1) − gelu(−1) = 1');
  const x = Float64Array.from([-6, -4.3, -3.1, -1, -0.3, 0, 0.2, 0.9, 2.5, 4.4, 7]);
  const w = randomArrayRef(x.length, 21);
  checkGrad('gelu erf dx', () => dot(geluErfRef(x), w), x, geluErfBackwardRef(x, w));
});

test('relu: values and finite differences away from the kink', () => {
  assert.equal(Array.from(reluRef([-2, 0, 3.5])), [0, 0, 3.5]);
  assert.equal(Array.from(reluBackwardRef([-2, 0, 3.5], [5, 5, 5])), [0, 0, 5]);
  const x = Float64Array.from([-6, -3.1, -0.3, 0.2, 0.9, 2.5, 7]);
  const w = randomArrayRef(x.length, 22);
  checkGrad('relu dx', () => dot(reluRef(x), w), x, reluBackwardRef(x, w));
});

test('layernorm: normalised rows and finite differences of dx, dγ, dβ', () => {
  const [rows, cols, eps] = [3, 7, 1e-5];
  const x = randomArrayRef(rows * cols, 30, 2);
  const gamma = randomArrayRef(cols, 31);
  const beta = randomArrayRef(cols, 32);
  const ones = new Float64Array(cols).fill(1);
  const { y, mean, rstd } = layernormRef(x, rows, cols, ones, new Float64Array(cols), eps);
  for (let r = 0; r < rows; r++) {
    const row = y.subarray(r * cols, (r + 1) * cols);
    const variance = 1 / rstd[r] ** 2 - eps;
    assert.ok(Math.abs(dot(row, ones) / cols) < 1e-14, 'row mean 0');
    assert.ok(Math.abs(dot(row, row) / cols - variance / (variance + eps)) < 1e-14, 'row variance');
    assert.ok(Math.abs(mean[r] - dot(x.subarray(r * cols, (r + 1) * cols), ones) / cols) < 1e-15, 'mean');
  }
  const w = randomArrayRef(rows * cols, 33);
  const f = () => dot(layernormRef(x, rows, cols, gamma, beta, eps).y, w);
  const g = layernormBackwardRef(x, gamma, w, rows, cols, eps);
  checkGrad('layernorm dx', f, x, g.dx);
  checkGrad('layernorm dgamma', f, gamma, g.dgamma);
  checkGrad('layernorm dbeta', f, beta, g.dbeta);
});

test('attention: hand example (T=2, 2 heads of width 1)', () => {
  // Row t holds [q_h0, q_h1, k_h0, k_h1, v_h0, v_h1].
  const qkv = [0.3, -1, 0.5, 2, 1, 10, 0.7, 0.4, -0.2, 1.5, 3, -4];
  const out = attentionRef(qkv, 2, 2, 1);
  const mix = (q: number, k0: number, k1: number, v0: number, v1: number) => {
    const [e0, e1] = [Math.exp(q * k0), Math.exp(q * k1)];
    return (e0 * v0 + e1 * v1) / (e0 + e1);
  };
  assertClose('out', out, [1, 10, mix(0.7, 0.5, -0.2, 1, 3), mix(0.4, 2, 1.5, 10, -4)]);
});

test('attention: T=1 passes v through; causal; finite differences at T=1 and T=5', () => {
  const [nHead, headDim] = [2, 3];
  const d = nHead * headDim;
  const one = randomArrayRef(3 * d, 40);
  assertClose('T=1 out = v', attentionRef(one, 1, nHead, headDim), one.subarray(2 * d));

  const T = 5;
  const qkv = randomArrayRef(T * 3 * d, 41, 1.5);
  const out = attentionRef(qkv, T, nHead, headDim);
  const future = qkv.slice();
  for (let i = 3 * 3 * d; i < future.length; i++) future[i] += 1; // rows 3..4 change
  assertClose('rows 0..2 ignore the future', attentionRef(future, T, nHead, headDim).subarray(0, 3 * d), out.subarray(0, 3 * d));

  for (const [t, x] of [[1, one], [T, qkv]] as const) {
    const w = randomArrayRef(t * d, 42);
    checkGrad(`attention T=${t} dqkv`, () => dot(attentionRef(x, t, nHead, headDim), w), x,
      attentionBackwardRef(x, w, t, nHead, headDim));
  }
});

test('softmax cross-entropy: values, ignored row, finite differences', () => {
  const [rows, V] = [4, 7];
  const logits = randomArrayRef(rows * V, 50, 3);
  logits.fill(0, 2 * V, 3 * V);
  const targets = [3, -1, 0, 6];
  const dloss = [0.7, 1.3, -0.4, 2];
  const { loss, lse } = softmaxXentRef(logits, rows, V, targets);
  assert.is(loss[1], 0, 'ignored row has loss 0');
  assert.ok(Math.abs(lse[2] - Math.log(V)) < 1e-15, 'lse of a zero row is log V');
  assert.ok(Math.abs(loss[0] + Math.log(softmaxRef(logits.subarray(0, V))[3])) < 1e-14, 'loss = −log p');
  const dlogits = softmaxXentBackwardRef(logits, rows, V, targets, dloss);
  assert.ok(dlogits.subarray(V, 2 * V).every((v) => v === 0), 'ignored row has zero gradient');
  checkGrad('xent dlogits', () => dot(softmaxXentRef(logits, rows, V, targets).loss, dloss), logits, dlogits);
});

test('embedding: gather and scatter-add with repeated ids', () => {
  const [V, P, d] = [5, 7, 3];
  const ids = [3, 1, 3, 0, 3];
  const wte = randomArrayRef(V * d, 60);
  const wpe = randomArrayRef(P * d, 61);
  const out = embeddingRef(ids, wte, wpe, d);
  assertClose('row 2', out.subarray(2 * d, 3 * d), [0, 1, 2].map((c) => wte[3 * d + c] + wpe[2 * d + c]));
  const w = randomArrayRef(ids.length * d, 62);
  const f = () => dot(embeddingRef(ids, wte, wpe, d), w);
  const g = embeddingBackwardRef(ids, w, V, P, d);
  checkGrad('embedding dwte', f, wte, g.dwte);
  checkGrad('embedding dwpe', f, wpe, g.dwpe);
});

test('topk and rank: ties go to the lower index', () => {
  const s = [0.5, 2, -1, 2, 0.5, -1, 3];
  const top = [6, 1, 3, 0, 4, 2, 5];
  const bottom = [2, 5, 0, 4, 1, 3, 6];
  assert.equal(topkRef(s, 7, 'top'), top);
  assert.equal(topkRef(s, 3, 'top'), [6, 1, 3]);
  assert.equal(topkRef(s, 4, 'bottom'), [2, 5, 0, 4]);
  assert.equal(topkRef(s, 99, 'bottom'), bottom);
  for (let pos = 0; pos < s.length; pos++) {
    assert.is(rankRef(s, top[pos], 'top'), pos);
    assert.is(rankRef(s, bottom[pos], 'bottom'), pos);
  }
});

test('adamw: one step by hand', () => {
  const hp = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
  const r = adamwRef([1, -2], [0.5, 0], [0.2, -0.1], [0.04, 0.001], hp);
  // Element 0: decay, moments, bias correction with step 3, update.
  const m0 = 0.9 * 0.2 + 0.1 * 0.5;
  const v0 = 0.999 * 0.04 + 0.001 * 0.25;
  const p0 = (1 - 0.1 * 0.01 * 1) - (0.1 * (m0 / (1 - 0.9 ** 3))) / (Math.sqrt(v0 / (1 - 0.999 ** 3)) + 1e-8);
  // Element 1: zero gradient, the moments still decay and keep moving p.
  const m1 = 0.9 * -0.1;
  const v1 = 0.999 * 0.001;
  const p1 = (-2 + 0.1 * 0.01 * 2) - (0.1 * (m1 / (1 - 0.9 ** 3))) / (Math.sqrt(v1 / (1 - 0.999 ** 3)) + 1e-8);
  assertClose('m', r.m, [m0, m1], 1e-15);
  assertClose('v', r.v, [v0, v1], 1e-15);
  assertClose('p', r.p, [p0, p1], 1e-15);
  // Literal numbers for step 1 from zero moments: m̂ = g, v̂ = g², so p moves by lr·g/(|g| + eps).
  const first = adamwRef([1], [0.5], [0], [0], { ...hp, step: 1 });
  assert.ok(Math.abs(first.p[0] - (0.999 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-15, `step 1: ${first.p[0]}`);
});

const TINY: Gpt2ConfigRef = { nLayer: 2, nHead: 2, nEmbd: 8, nPositions: 7, vocabSize: 11, nInner: 32, eps: 1e-5 };
const IDS = [1, 4, 4, 9, 0];
const TARGETS: Gpt2TargetRef[] = [{ position: 2, token: 7 }, { position: 4, token: 3 }];

/** Σ −log softmax(logits[position])[token], computed here without the backward code path. */
function nll(logits: Float64Array, V: number, targets: Gpt2TargetRef[]): number {
  return targets.reduce((s, { position, token }) =>
    s - Math.log(softmaxRef(logits.subarray(position * V, (position + 1) * V))[token]), 0);
}

test('gpt2: random parameters are float32-exact, deterministic and complete', () => {
  const a = randomGpt2ParamsRef(TINY, 7);
  const b = randomGpt2ParamsRef(TINY, 7);
  const c = randomGpt2ParamsRef(TINY, 8);
  const shapes = gpt2ParamShapesRef(TINY);
  assert.equal(Object.keys(a), Object.keys(shapes));
  for (const [name, t] of Object.entries(a)) {
    assert.is(t.length, shapes[name].reduce((x, y) => x * y, 1), name);
    assert.ok(t.every((v) => v === Math.fround(v) && v !== 0), `${name} float32-exact and nonzero`);
    assert.equal(t, b[name], `${name} deterministic`);
    assert.not.equal(t, c[name], `${name} depends on the seed`);
  }
});

test('gpt2: loss gradient of every parameter entry matches finite differences', () => {
  const params = randomGpt2ParamsRef(TINY, 1234, 0.3);
  const { loss, logits, grads } = gpt2BackwardRef(TINY, params, IDS, TARGETS);
  const f = () => nll(gpt2ForwardRef(TINY, params, IDS).logits, TINY.vocabSize, TARGETS);
  assert.ok(Math.abs(loss - f()) < 1e-14, 'loss');
  assertClose('logits', logits, gpt2ForwardRef(TINY, params, IDS).logits, 0);
  assert.equal(Object.keys(grads).sort(), Object.keys(params).sort());
  for (const name of Object.keys(params)) checkGrad(name, f, params[name], grads[name]);
});

test('gpt2: factors reproduce the dense weight and bias gradients', () => {
  const params = randomGpt2ParamsRef(TINY, 99, 0.3);
  const { grads, factors } = gpt2BackwardRef(TINY, params, IDS, TARGETS);
  for (let l = 0; l < TINY.nLayer; l++) {
    for (const mod of GPT2_LINEARS_REF) {
      const name = `h.${l}.${mod}`;
      const { x, delta, rows, inDim, outDim } = factors[name];
      assert.is(rows, IDS.length);
      assert.is(x.length, rows * inDim);
      assert.is(delta.length, rows * outDim);
      const dW = new Float64Array(inDim * outDim);
      const db = new Float64Array(outDim);
      for (let i = 0; i < rows; i++) {
        for (let o = 0; o < outDim; o++) {
          db[o] += delta[i * outDim + o];
          for (let k = 0; k < inDim; k++) dW[k * outDim + o] += x[i * inDim + k] * delta[i * outDim + o];
        }
      }
      assertClose(`${name}.weight`, dW, grads[`${name}.weight`]);
      assertClose(`${name}.bias`, db, grads[`${name}.bias`]);
    }
  }
});

test('gpt2: with one target at the last position, the last block gets rank-1 MLP/c_proj factors', () => {
  const params = randomGpt2ParamsRef(TINY, 5, 0.3);
  const T = IDS.length;
  const { factors } = gpt2BackwardRef(TINY, params, IDS, [{ position: T - 1, token: 2 }]);
  const last = `h.${TINY.nLayer - 1}.`;
  for (const mod of ['attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']) {
    const { delta, outDim } = factors[last + mod];
    assert.ok(delta.subarray(0, (T - 1) * outDim).every((v) => v === 0), `${mod}: only the last row is nonzero`);
    assert.ok(delta.subarray((T - 1) * outDim).some((v) => v !== 0), `${mod}: last row nonzero`);
  }
  // Keys and values of earlier positions still receive gradient.
  const { delta, outDim } = factors[`${last}attn.c_attn`];
  assert.ok(delta.subarray(0, outDim).some((v) => v !== 0), 'c_attn row 0 nonzero');
});

test('logit lens: matches the model head, normalisation is scale-free, zero vector is finite', () => {
  // With no blocks the residual entering ln_f is wte[id] + wpe[t], so the lens must reproduce the logits.
  const cfg = { ...TINY, nLayer: 0 };
  const params = randomGpt2ParamsRef(cfg, 3, 0.3);
  const d = cfg.nEmbd;
  const id = 6;
  const v = params['wte.weight'].subarray(id * d, (id + 1) * d).map((x, c) => x + params['wpe.weight'][c]);
  const { logits } = gpt2ForwardRef(cfg, params, [id]);
  const probs = lnfLogitLensRef(cfg, params, v, false);
  assertClose('lens = softmax(logits)', probs, softmaxRef(logits));
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-14, 'sums to 1');
  // Tiny vectors are where the normalised lens differs: ln_f's eps dominates their variance.
  const tiny = v.map((x) => x * 1e-4);
  assertClose('normalised lens ignores scale', lnfLogitLensRef(cfg, params, tiny, true), lnfLogitLensRef(cfg, params, v, true), 1e-12);
  assert.ok(Math.abs(lnfLogitLensRef(cfg, params, tiny, false)[0] - probs[0]) > 1e-6, 'plain lens feels eps');
  assert.ok(lnfLogitLensRef(cfg, params, new Float64Array(d), true).every(Number.isFinite), 'zero vector');
});

test.run();
