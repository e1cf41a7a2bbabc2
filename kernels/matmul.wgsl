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
  // Invocations of each 64 that work (src/gpu/gemm.ts: fewer on the CPU adapters, so a
  // skinny product's workgroups share out evenly over the cores); the rest return.
  working: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// Rows of C per invocation: 16, or 8 for a product of at most 8 rows on the CPU adapters
// (src/gpu/gemm.ts), where the upper 8 would be clamped copies of the last row: the
// code for rows 8-15 is left out of that pipeline. Each row's sums are the same.
override ROWS: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<WeightWord>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn readB(i: u32) -> f32 { return decodeWeight(B[weightWord(i)], i); }

// The first of the 8 columns of C an invocation computes, or past N if it is idle.
fn firstColumn(wid: vec3<u32>, lid: vec3<u32>) -> u32 {
  return select(p.N, (wid.x * p.working + lid.x) * 8u, lid.x < p.working);
}

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
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = firstColumn(wid, lid);
  let m0 = wid.y * ROWS;
  // Idle invocations come in whole subgroups (working is a multiple of 8); one whose
  // columns start past N computes clamped ones and stores none, so the rows of A can be
  // shared across its subgroup (kernels/matmul-rows-*.wgsl).
  if (lid.x >= p.working || m0 >= p.M) { return; }
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
  let lane = lid.x % 8u;
  let ownLo = p.offA + min(m0 + lane, lastM) * sAm;
  let ownHi = p.offA + min(m0 + 8u + lane, lastM) * sAm;
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
    let rows = aFetch(ownLo + ka, ownHi + ka);
    let x0 = aValue(rows, a0 + ka, 0u); c0l += x0 * bl; c0h += x0 * bh;
    let x1 = aValue(rows, a1 + ka, 1u); c1l += x1 * bl; c1h += x1 * bh;
    let x2 = aValue(rows, a2 + ka, 2u); c2l += x2 * bl; c2h += x2 * bh;
    let x3 = aValue(rows, a3 + ka, 3u); c3l += x3 * bl; c3h += x3 * bh;
    let x4 = aValue(rows, a4 + ka, 4u); c4l += x4 * bl; c4h += x4 * bh;
    let x5 = aValue(rows, a5 + ka, 5u); c5l += x5 * bl; c5h += x5 * bh;
    let x6 = aValue(rows, a6 + ka, 6u); c6l += x6 * bl; c6h += x6 * bh;
    let x7 = aValue(rows, a7 + ka, 7u); c7l += x7 * bl; c7h += x7 * bh;
    if (ROWS == 16u) {
      let x8 = aValue(rows, a8 + ka, 8u); c8l += x8 * bl; c8h += x8 * bh;
      let x9 = aValue(rows, a9 + ka, 9u); c9l += x9 * bl; c9h += x9 * bh;
      let x10 = aValue(rows, a10 + ka, 10u); c10l += x10 * bl; c10h += x10 * bh;
      let x11 = aValue(rows, a11 + ka, 11u); c11l += x11 * bl; c11h += x11 * bh;
      let x12 = aValue(rows, a12 + ka, 12u); c12l += x12 * bl; c12h += x12 * bh;
      let x13 = aValue(rows, a13 + ka, 13u); c13l += x13 * bl; c13h += x13 * bh;
      let x14 = aValue(rows, a14 + ka, 14u); c14l += x14 * bl; c14h += x14 * bh;
      let x15 = aValue(rows, a15 + ka, 15u); c15l += x15 * bl; c15h += x15 * bh;
    }
  }
  store(m0 + 0u, n0, c0l); store(m0 + 0u, n0 + 4u, c0h);
  store(m0 + 1u, n0, c1l); store(m0 + 1u, n0 + 4u, c1h);
  store(m0 + 2u, n0, c2l); store(m0 + 2u, n0 + 4u, c2h);
  store(m0 + 3u, n0, c3l); store(m0 + 3u, n0 + 4u, c3h);
  store(m0 + 4u, n0, c4l); store(m0 + 4u, n0 + 4u, c4h);
  store(m0 + 5u, n0, c5l); store(m0 + 5u, n0 + 4u, c5h);
  store(m0 + 6u, n0, c6l); store(m0 + 6u, n0 + 4u, c6h);
  store(m0 + 7u, n0, c7l); store(m0 + 7u, n0 + 4u, c7h);
  if (ROWS == 16u) {
    store(m0 + 8u, n0, c8l); store(m0 + 8u, n0 + 4u, c8h);
    store(m0 + 9u, n0, c9l); store(m0 + 9u, n0 + 4u, c9h);
    store(m0 + 10u, n0, c10l); store(m0 + 10u, n0 + 4u, c10h);
    store(m0 + 11u, n0, c11l); store(m0 + 11u, n0 + 4u, c11h);
    store(m0 + 12u, n0, c12l); store(m0 + 12u, n0 + 4u, c12h);
    store(m0 + 13u, n0, c13l); store(m0 + 13u, n0 + 4u, c13h);
    store(m0 + 14u, n0, c14l); store(m0 + 14u, n0 + 4u, c14h);
    store(m0 + 15u, n0, c15l); store(m0 + 15u, n0 + 4u, c15h);
  }
}

// One row of C (M = 1: the LM head at the last position, every matmul of a decoding
// step), where the tile above would compute 15 clamped copies of it. Same sums in the
// same order as the tile, so its results are bit for bit the tile's.
@compute @workgroup_size(64)
fn matvec(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = firstColumn(wid, lid);
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

// The CPU adapters' tile for B transposed, B [N, K] as stored (gemm picks it on them,
// src/gpu/gemm.ts): the backward's dx = Delta W^T of GPT-2's [in, out] weights, the
// forward's x W^T of nn.Linear's [out, in]. The 16 x 8 tile of matmul, with A [M, K]
// read from a texture and each column of B four k at a time (K, B's leading dimension
// and offset multiples of 4). llvmpipe turns every storage load in a loop into eight
// scalar loads, each behind an exec-mask test and a bounds check, whatever the
// addresses; a texel fetch is one vectorised gather of four consecutive k of a row,
// and a quad load pays the per-lane checks once for four weights (lens_texture in
// kernels/lens.wgsl, measured there first). B not transposed gains nothing from this
// (bench/RESULTS.md, issue 28, 6), so matmul serves it. Each entry of C sums its terms
// in k order, as in matmul, so the two agree to the bit.
// aRows is A [M, K] as rgba32float: texel (q, m) = A(m, 4q .. 4q + 3) (src/gpu/rows-texture.ts).
@group(0) @binding(5) var aRows: texture_2d<f32>;
@group(0) @binding(2) var<storage, read> BQuads: array<WeightQuad>;

@compute @workgroup_size(64)
fn matmul_texture(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = firstColumn(wid, lid);
  let m0 = wid.y * ROWS;
  // As in matmul: whole subgroups return, so A's rows can be shared.
  if (lid.x >= p.working || m0 >= p.M) { return; }
  let lastM = p.M - 1u;
  let y0 = min(m0 + 0u, lastM);
  let y1 = min(m0 + 1u, lastM);
  let y2 = min(m0 + 2u, lastM);
  let y3 = min(m0 + 3u, lastM);
  let y4 = min(m0 + 4u, lastM);
  let y5 = min(m0 + 5u, lastM);
  let y6 = min(m0 + 6u, lastM);
  let y7 = min(m0 + 7u, lastM);
  let y8 = min(m0 + 8u, lastM);
  let y9 = min(m0 + 9u, lastM);
  let y10 = min(m0 + 10u, lastM);
  let y11 = min(m0 + 11u, lastM);
  let y12 = min(m0 + 12u, lastM);
  let y13 = min(m0 + 13u, lastM);
  let y14 = min(m0 + 14u, lastM);
  let y15 = min(m0 + 15u, lastM);
  // Where columns n0 .. n0 + 7 start, in quads, clamped to the last column as in matmul.
  let lastN = p.N - 1u;
  let ldq = p.ldb / 4u;
  let b0 = p.offB / 4u + min(n0 + 0u, lastN) * ldq;
  let b1 = p.offB / 4u + min(n0 + 1u, lastN) * ldq;
  let b2 = p.offB / 4u + min(n0 + 2u, lastN) * ldq;
  let b3 = p.offB / 4u + min(n0 + 3u, lastN) * ldq;
  let b4 = p.offB / 4u + min(n0 + 4u, lastN) * ldq;
  let b5 = p.offB / 4u + min(n0 + 5u, lastN) * ldq;
  let b6 = p.offB / 4u + min(n0 + 6u, lastN) * ldq;
  let b7 = p.offB / 4u + min(n0 + 7u, lastN) * ldq;
  let yLo = min(m0 + lid.x % 8u, lastM);
  let yHi = min(m0 + 8u + lid.x % 8u, lastM);
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
  for (var q = 0u; q < p.K / 4u; q++) {
    let w0 = decodeQuad(BQuads[b0 + q]); let w1 = decodeQuad(BQuads[b1 + q]);
    let w2 = decodeQuad(BQuads[b2 + q]); let w3 = decodeQuad(BQuads[b3 + q]);
    let w4 = decodeQuad(BQuads[b4 + q]); let w5 = decodeQuad(BQuads[b5 + q]);
    let w6 = decodeQuad(BQuads[b6 + q]); let w7 = decodeQuad(BQuads[b7 + q]);
    let lx = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
    let hx = vec4<f32>(w4.x, w5.x, w6.x, w7.x);
    let ly = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
    let hy = vec4<f32>(w4.y, w5.y, w6.y, w7.y);
    let lz = vec4<f32>(w0.z, w1.z, w2.z, w3.z);
    let hz = vec4<f32>(w4.z, w5.z, w6.z, w7.z);
    let lw = vec4<f32>(w0.w, w1.w, w2.w, w3.w);
    let hw = vec4<f32>(w4.w, w5.w, w6.w, w7.w);
    let quads = fetchRowQuads(aRows, q, yLo, yHi, ROWS == 16u);
    let a0 = rowQuad(aRows, quads, q, y0, 0u);
    let a1 = rowQuad(aRows, quads, q, y1, 1u);
    let a2 = rowQuad(aRows, quads, q, y2, 2u);
    let a3 = rowQuad(aRows, quads, q, y3, 3u);
    let a4 = rowQuad(aRows, quads, q, y4, 4u);
    let a5 = rowQuad(aRows, quads, q, y5, 5u);
    let a6 = rowQuad(aRows, quads, q, y6, 6u);
    let a7 = rowQuad(aRows, quads, q, y7, 7u);
    c0l += a0.x * lx; c0h += a0.x * hx;
    c1l += a1.x * lx; c1h += a1.x * hx;
    c2l += a2.x * lx; c2h += a2.x * hx;
    c3l += a3.x * lx; c3h += a3.x * hx;
    c4l += a4.x * lx; c4h += a4.x * hx;
    c5l += a5.x * lx; c5h += a5.x * hx;
    c6l += a6.x * lx; c6h += a6.x * hx;
    c7l += a7.x * lx; c7h += a7.x * hx;
    c0l += a0.y * ly; c0h += a0.y * hy;
    c1l += a1.y * ly; c1h += a1.y * hy;
    c2l += a2.y * ly; c2h += a2.y * hy;
    c3l += a3.y * ly; c3h += a3.y * hy;
    c4l += a4.y * ly; c4h += a4.y * hy;
    c5l += a5.y * ly; c5h += a5.y * hy;
    c6l += a6.y * ly; c6h += a6.y * hy;
    c7l += a7.y * ly; c7h += a7.y * hy;
    c0l += a0.z * lz; c0h += a0.z * hz;
    c1l += a1.z * lz; c1h += a1.z * hz;
    c2l += a2.z * lz; c2h += a2.z * hz;
    c3l += a3.z * lz; c3h += a3.z * hz;
    c4l += a4.z * lz; c4h += a4.z * hz;
    c5l += a5.z * lz; c5h += a5.z * hz;
    c6l += a6.z * lz; c6h += a6.z * hz;
    c7l += a7.z * lz; c7h += a7.z * hz;
    c0l += a0.w * lw; c0h += a0.w * hw;
    c1l += a1.w * lw; c1h += a1.w * hw;
    c2l += a2.w * lw; c2h += a2.w * hw;
    c3l += a3.w * lw; c3h += a3.w * hw;
    c4l += a4.w * lw; c4h += a4.w * hw;
    c5l += a5.w * lw; c5h += a5.w * hw;
    c6l += a6.w * lw; c6h += a6.w * hw;
    c7l += a7.w * lw; c7h += a7.w * hw;
    if (ROWS == 16u) {
      let a8 = rowQuad(aRows, quads, q, y8, 8u);
      let a9 = rowQuad(aRows, quads, q, y9, 9u);
      let a10 = rowQuad(aRows, quads, q, y10, 10u);
      let a11 = rowQuad(aRows, quads, q, y11, 11u);
      let a12 = rowQuad(aRows, quads, q, y12, 12u);
      let a13 = rowQuad(aRows, quads, q, y13, 13u);
      let a14 = rowQuad(aRows, quads, q, y14, 14u);
      let a15 = rowQuad(aRows, quads, q, y15, 15u);
      c8l += a8.x * lx; c8h += a8.x * hx;
      c9l += a9.x * lx; c9h += a9.x * hx;
      c10l += a10.x * lx; c10h += a10.x * hx;
      c11l += a11.x * lx; c11h += a11.x * hx;
      c12l += a12.x * lx; c12h += a12.x * hx;
      c13l += a13.x * lx; c13h += a13.x * hx;
      c14l += a14.x * lx; c14h += a14.x * hx;
      c15l += a15.x * lx; c15h += a15.x * hx;
      c8l += a8.y * ly; c8h += a8.y * hy;
      c9l += a9.y * ly; c9h += a9.y * hy;
      c10l += a10.y * ly; c10h += a10.y * hy;
      c11l += a11.y * ly; c11h += a11.y * hy;
      c12l += a12.y * ly; c12h += a12.y * hy;
      c13l += a13.y * ly; c13h += a13.y * hy;
      c14l += a14.y * ly; c14h += a14.y * hy;
      c15l += a15.y * ly; c15h += a15.y * hy;
      c8l += a8.z * lz; c8h += a8.z * hz;
      c9l += a9.z * lz; c9h += a9.z * hz;
      c10l += a10.z * lz; c10h += a10.z * hz;
      c11l += a11.z * lz; c11h += a11.z * hz;
      c12l += a12.z * lz; c12h += a12.z * hz;
      c13l += a13.z * lz; c13h += a13.z * hz;
      c14l += a14.z * lz; c14h += a14.z * hz;
      c15l += a15.z * lz; c15h += a15.z * hz;
      c8l += a8.w * lw; c8h += a8.w * hw;
      c9l += a9.w * lw; c9h += a9.w * hw;
      c10l += a10.w * lw; c10h += a10.w * hw;
      c11l += a11.w * lw; c11h += a11.w * hw;
      c12l += a12.w * lw; c12h += a12.w * hw;
      c13l += a13.w * lw; c13h += a13.w * hw;
      c14l += a14.w * lw; c14h += a14.w * hw;
      c15l += a15.w * lw; c15h += a15.w * hw;
    }
  }
  store(m0 + 0u, n0, c0l); store(m0 + 0u, n0 + 4u, c0h);
  store(m0 + 1u, n0, c1l); store(m0 + 1u, n0 + 4u, c1h);
  store(m0 + 2u, n0, c2l); store(m0 + 2u, n0 + 4u, c2h);
  store(m0 + 3u, n0, c3l); store(m0 + 3u, n0 + 4u, c3h);
  store(m0 + 4u, n0, c4l); store(m0 + 4u, n0 + 4u, c4h);
  store(m0 + 5u, n0, c5l); store(m0 + 5u, n0 + 4u, c5h);
  store(m0 + 6u, n0, c6l); store(m0 + 6u, n0 + 4u, c6h);
  store(m0 + 7u, n0, c7l); store(m0 + 7u, n0 + 4u, c7h);
  if (ROWS == 16u) {
    store(m0 + 8u, n0, c8l); store(m0 + 8u, n0 + 4u, c8h);
    store(m0 + 9u, n0, c9l); store(m0 + 9u, n0 + 4u, c9h);
    store(m0 + 10u, n0, c10l); store(m0 + 10u, n0 + 4u, c10h);
    store(m0 + 11u, n0, c11l); store(m0 + 11u, n0 + 4u, c11h);
    store(m0 + 12u, n0, c12l); store(m0 + 12u, n0 + 4u, c12h);
    store(m0 + 13u, n0, c13l); store(m0 + 13u, n0 + 4u, c13h);
    store(m0 + 14u, n0, c14l); store(m0 + 14u, n0 + 4u, c14h);
    store(m0 + 15u, n0, c15l); store(m0 + 15u, n0 + 4u, c15h);
  }
}
