// Matmul family: C = alpha * op(A) * op(B) + beta * C (+ bias on every row).
// Forward z = x W + b is NN; backward dX = dZ W^T is NT; dW = X^T dZ (and the
// low-rank update W -= eta X^T Delta) is TN. Offsets and leading dimensions let a
// call address a block of a larger matrix (per-neuron rows of a gradient).
//
// No workgroup memory: on SwiftShader barriers cost more than the reuse they buy.
// Each invocation keeps a 16 x 8 tile of C in registers, written out by hand
// because SwiftShader's JIT neither unrolls loops nor keeps private arrays in
// registers. Edge tiles clamp their indices and discard the extra results.
//
// B is the operand a weight comes in as (W in x W and in dX = Delta W^T, wte in the
// LM head): it is read through readB, so a 16-bit weight stays packed (weights-*.wgsl).

struct Params {
  M: u32, N: u32, K: u32,
  lda: u32, ldb: u32, ldc: u32,
  offA: u32, offB: u32, offC: u32,
  alpha: f32, beta: f32, hasBias: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<WeightWord>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn readB(i: u32) -> f32 { return decodeWeight(B[weightWord(i)], i); }

fn store(m: u32, n0: u32, acc: vec4<f32>) {
  if (m >= p.M) { return; }
  let row = p.offC + m * p.ldc;
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < p.N) {
      var v = p.alpha * acc[j];
      if (p.beta != 0.0) { v += p.beta * C[row + n]; }
      if (p.hasBias != 0u) { v += bias[n]; }
      C[row + n] = v;
    }
  }
}

@compute @workgroup_size(64)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 16u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  // A(m, k) = A[offA + m * sAm + k * sAk]; B(k, n) = B[offB + k * sBk + n * sBn].
  let sAm = select(p.lda, 1u, TRANS_A);
  let sAk = select(1u, p.lda, TRANS_A);
  let sBk = select(p.ldb, 1u, TRANS_B);
  let sBn = select(1u, p.ldb, TRANS_B);
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let a0 = p.offA + min(m0 + 0u, lastM) * sAm;
  let a1 = p.offA + min(m0 + 1u, lastM) * sAm;
  let a2 = p.offA + min(m0 + 2u, lastM) * sAm;
  let a3 = p.offA + min(m0 + 3u, lastM) * sAm;
  let a4 = p.offA + min(m0 + 4u, lastM) * sAm;
  let a5 = p.offA + min(m0 + 5u, lastM) * sAm;
  let a6 = p.offA + min(m0 + 6u, lastM) * sAm;
  let a7 = p.offA + min(m0 + 7u, lastM) * sAm;
  let a8 = p.offA + min(m0 + 8u, lastM) * sAm;
  let a9 = p.offA + min(m0 + 9u, lastM) * sAm;
  let a10 = p.offA + min(m0 + 10u, lastM) * sAm;
  let a11 = p.offA + min(m0 + 11u, lastM) * sAm;
  let a12 = p.offA + min(m0 + 12u, lastM) * sAm;
  let a13 = p.offA + min(m0 + 13u, lastM) * sAm;
  let a14 = p.offA + min(m0 + 14u, lastM) * sAm;
  let a15 = p.offA + min(m0 + 15u, lastM) * sAm;
  let b0 = p.offB + min(n0 + 0u, lastN) * sBn;
  let b1 = p.offB + min(n0 + 1u, lastN) * sBn;
  let b2 = p.offB + min(n0 + 2u, lastN) * sBn;
  let b3 = p.offB + min(n0 + 3u, lastN) * sBn;
  let b4 = p.offB + min(n0 + 4u, lastN) * sBn;
  let b5 = p.offB + min(n0 + 5u, lastN) * sBn;
  let b6 = p.offB + min(n0 + 6u, lastN) * sBn;
  let b7 = p.offB + min(n0 + 7u, lastN) * sBn;
  var c0l = vec4<f32>(0.0); var c0h = vec4<f32>(0.0);
  var c1l = vec4<f32>(0.0); var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0); var c2h = vec4<f32>(0.0);
  var c3l = vec4<f32>(0.0); var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0); var c4h = vec4<f32>(0.0);
  var c5l = vec4<f32>(0.0); var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0); var c6h = vec4<f32>(0.0);
  var c7l = vec4<f32>(0.0); var c7h = vec4<f32>(0.0);
  var c8l = vec4<f32>(0.0); var c8h = vec4<f32>(0.0);
  var c9l = vec4<f32>(0.0); var c9h = vec4<f32>(0.0);
  var c10l = vec4<f32>(0.0); var c10h = vec4<f32>(0.0);
  var c11l = vec4<f32>(0.0); var c11h = vec4<f32>(0.0);
  var c12l = vec4<f32>(0.0); var c12h = vec4<f32>(0.0);
  var c13l = vec4<f32>(0.0); var c13h = vec4<f32>(0.0);
  var c14l = vec4<f32>(0.0); var c14h = vec4<f32>(0.0);
  var c15l = vec4<f32>(0.0); var c15h = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ka = (k) * sAk;
    let kb = (k) * sBk;
    let bl = vec4<f32>(readB(b0 + kb), readB(b1 + kb), readB(b2 + kb), readB(b3 + kb));
    let bh = vec4<f32>(readB(b4 + kb), readB(b5 + kb), readB(b6 + kb), readB(b7 + kb));
    let x0 = A[a0 + ka]; c0l += x0 * bl; c0h += x0 * bh;
    let x1 = A[a1 + ka]; c1l += x1 * bl; c1h += x1 * bh;
    let x2 = A[a2 + ka]; c2l += x2 * bl; c2h += x2 * bh;
    let x3 = A[a3 + ka]; c3l += x3 * bl; c3h += x3 * bh;
    let x4 = A[a4 + ka]; c4l += x4 * bl; c4h += x4 * bh;
    let x5 = A[a5 + ka]; c5l += x5 * bl; c5h += x5 * bh;
    let x6 = A[a6 + ka]; c6l += x6 * bl; c6h += x6 * bh;
    let x7 = A[a7 + ka]; c7l += x7 * bl; c7h += x7 * bh;
    let x8 = A[a8 + ka]; c8l += x8 * bl; c8h += x8 * bh;
    let x9 = A[a9 + ka]; c9l += x9 * bl; c9h += x9 * bh;
    let x10 = A[a10 + ka]; c10l += x10 * bl; c10h += x10 * bh;
    let x11 = A[a11 + ka]; c11l += x11 * bl; c11h += x11 * bh;
    let x12 = A[a12 + ka]; c12l += x12 * bl; c12h += x12 * bh;
    let x13 = A[a13 + ka]; c13l += x13 * bl; c13h += x13 * bh;
    let x14 = A[a14 + ka]; c14l += x14 * bl; c14h += x14 * bh;
    let x15 = A[a15 + ka]; c15l += x15 * bl; c15h += x15 * bh;
  }
  store(m0 + 0u, n0, c0l); store(m0 + 0u, n0 + 4u, c0h);
  store(m0 + 1u, n0, c1l); store(m0 + 1u, n0 + 4u, c1h);
  store(m0 + 2u, n0, c2l); store(m0 + 2u, n0 + 4u, c2h);
  store(m0 + 3u, n0, c3l); store(m0 + 3u, n0 + 4u, c3h);
  store(m0 + 4u, n0, c4l); store(m0 + 4u, n0 + 4u, c4h);
  store(m0 + 5u, n0, c5l); store(m0 + 5u, n0 + 4u, c5h);
  store(m0 + 6u, n0, c6l); store(m0 + 6u, n0 + 4u, c6h);
  store(m0 + 7u, n0, c7l); store(m0 + 7u, n0 + 4u, c7h);
  store(m0 + 8u, n0, c8l); store(m0 + 8u, n0 + 4u, c8h);
  store(m0 + 9u, n0, c9l); store(m0 + 9u, n0 + 4u, c9h);
  store(m0 + 10u, n0, c10l); store(m0 + 10u, n0 + 4u, c10h);
  store(m0 + 11u, n0, c11l); store(m0 + 11u, n0 + 4u, c11h);
  store(m0 + 12u, n0, c12l); store(m0 + 12u, n0 + 4u, c12h);
  store(m0 + 13u, n0, c13l); store(m0 + 13u, n0 + 4u, c13h);
  store(m0 + 14u, n0, c14l); store(m0 + 14u, n0 + 4u, c14h);
  store(m0 + 15u, n0, c15l); store(m0 + 15u, n0 + 4u, c15h);
}

// One row of C (M = 1: the LM head at the last position, every matmul of a decoding
// step), where the tile above would compute 15 clamped copies of it. Same sums in the
// same order as the tile, so its results are bit for bit the tile's.
@compute @workgroup_size(64)
fn matvec(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 8u;
  if (n0 >= p.N) { return; }
  let sAk = select(1u, p.lda, TRANS_A);
  let sBk = select(p.ldb, 1u, TRANS_B);
  let sBn = select(1u, p.ldb, TRANS_B);
  // Where columns n0..n0+7 of B start, clamped to the last column as in the tile.
  let lo = p.offB + min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.N - 1u)) * sBn;
  let hi = p.offB + min(vec4<u32>(n0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(p.N - 1u)) * sBn;
  var cl = vec4<f32>(0.0); var ch = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let l = lo + vec4<u32>(k * sBk);
    let h = hi + vec4<u32>(k * sBk);
    let x = A[p.offA + k * sAk];
    cl += x * vec4<f32>(readB(l.x), readB(l.y), readB(l.z), readB(l.w));
    ch += x * vec4<f32>(readB(h.x), readB(h.y), readB(h.z), readB(h.w));
  }
  store(0u, n0, cl); store(0u, n0 + 4u, ch);
}
