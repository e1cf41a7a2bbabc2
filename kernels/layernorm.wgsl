// LayerNorm over the last dimension, biased variance, eps from the model config.
//   forward:  xhat = (x - mean) * rstd,  y = xhat * gamma + beta;  saves mean, rstd
//   backward: g = dy * gamma
//             dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//             dgamma = sum_rows dy * xhat,  dbeta = sum_rows dy
// One invocation per row (forward, dx) or per column (dgamma, dbeta): rows are
// short (768-1600) and workgroup reductions are slow on SwiftShader.

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>; // [rows, 2]: mean, rstd

@compute @workgroup_size(64)
fn layernorm_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  var sum = 0.0;
  for (var c = 0u; c < p.cols; c++) { sum += x[base + c]; }
  let mean = sum / f32(p.cols);
  var sq = 0.0;
  for (var c = 0u; c < p.cols; c++) { let d = x[base + c] - mean; sq += d * d; }
  let rstd = inverseSqrt(sq / f32(p.cols) + p.eps);
  for (var c = 0u; c < p.cols; c++) {
    y[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
  }
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;
}

@group(0) @binding(1) var<storage, read> bx: array<f32>;
@group(0) @binding(2) var<storage, read> bgamma: array<f32>;
@group(0) @binding(3) var<storage, read> bstats: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn layernorm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let mean = bstats[2u * r];
  let rstd = bstats[2u * r + 1u];
  var mg = 0.0;
  var mgx = 0.0;
  for (var c = 0u; c < p.cols; c++) {
    let g = dy[base + c] * bgamma[c];
    mg += g;
    mgx += g * (bx[base + c] - mean) * rstd;
  }
  mg /= f32(p.cols);
  mgx /= f32(p.cols);
  for (var c = 0u; c < p.cols; c++) {
    let xhat = (bx[base + c] - mean) * rstd;
    dx[base + c] = rstd * (dy[base + c] * bgamma[c] - mg - xhat * mgx);
  }
}

// Accumulates into dgamma and dbeta so repeated uses of one parameter add up.
@group(0) @binding(2) var<storage, read> pstats: array<f32>;
@group(0) @binding(3) var<storage, read> pdy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(64)
fn layernorm_backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.cols) { return; }
  var dg = 0.0;
  var db = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let d = pdy[r * p.cols + c];
    dg += d * (bx[r * p.cols + c] - pstats[2u * r]) * pstats[2u * r + 1u];
    db += d;
  }
  dgamma[c] += dg;
  dbeta[c] += db;
}
