// RMSNorm over the last dimension (Llama's LlamaRMSNorm, computed in f32 as HF does):
//   forward:  rstd = 1 / sqrt(mean(x^2) + eps),  xhat = x * rstd,  y = xhat * w;  saves rstd
//   backward: g = dy * w,  dx = rstd * (g - xhat * mean(g * xhat)),  dw = sum_rows dy * xhat
// eps sits inside the square root and w multiplies after normalising. One invocation
// per row (forward, dx) or per column (dw), as layernorm.wgsl, for the same reason:
// workgroup reductions are slow on SwiftShader and rows are short.

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

@compute @workgroup_size(64)
fn rmsnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  var sq = 0.0;
  for (var c = 0u; c < p.cols; c++) { sq += x[base + c] * x[base + c]; }
  let rs = inverseSqrt(sq / f32(p.cols) + p.eps);
  for (var c = 0u; c < p.cols; c++) { y[base + c] = x[base + c] * rs * w[c]; }
  rstd[r] = rs;
}

@group(0) @binding(3) var<storage, read> brstd: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn rmsnorm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let rs = brstd[r];
  var mgx = 0.0;
  for (var c = 0u; c < p.cols; c++) { mgx += dy[base + c] * w[c] * x[base + c] * rs; }
  mgx /= f32(p.cols);
  for (var c = 0u; c < p.cols; c++) {
    dx[base + c] = rs * (dy[base + c] * w[c] - x[base + c] * rs * mgx);
  }
}

// Accumulates into dw so repeated uses of one weight add up.
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(64)
fn rmsnorm_backward_weight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.cols) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) { s += dy[r * p.cols + c] * x[r * p.cols + c] * brstd[r]; }
  dw[c] += s;
}
