// Residual stream arithmetic: out = a + b (forward of x + f(x)) and
// acc += b (gradient accumulation where a tensor is used twice); per-row norms and
// unit-norm rows for the logit lens (norms of x_i and delta_i, App. F's LL(v/|v|)).
// These are never differentiated, so they have no backward.

struct Params { n: u32, cols: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.y * nwg.x * 64u + gid.x;
}

@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = a[i] + b[i]; }
}

@compute @workgroup_size(64)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { acc[i] = acc[i] + b[i]; }
}

// Rows: n rows of `cols` values in a.
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;

fn row_norm(r: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < p.cols; c++) { let v = a[r * p.cols + c]; s += v * v; }
  return sqrt(s);
}

@compute @workgroup_size(64)
fn row_norms(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = index(gid, nwg);
  if (r < p.n) { norms[r] = row_norm(r); }
}

// The zero vector stays zero rather than becoming NaN.
@group(0) @binding(2) var<storage, read_write> unit: array<f32>;

@compute @workgroup_size(64)
fn normalize_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = index(gid, nwg);
  if (r >= p.n) { return; }
  let norm = row_norm(r);
  let scale = select(0.0, 1.0 / norm, norm > 0.0);
  for (var c = 0u; c < p.cols; c++) { unit[r * p.cols + c] = a[r * p.cols + c] * scale; }
}
