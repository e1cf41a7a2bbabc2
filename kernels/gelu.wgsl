// The MLP activations of the GPT-2 family, forward and backward, one element per
// invocation; the config's activation_function picks one.
//
// gelu (GPT-2's tanh approximation, `gelu_new`):
//   y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// gelu_erf (exact GELU, Hugging Face `gelu`):
//   y = x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))),  dy/dx = Phi(x) + x phi(x),
//   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// relu:
//   y = max(x, 0),  dy/dx = 1 for x > 0, else 0 (PyTorch's choice at 0)

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// backward: dx = dy * y'(x)
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const S = 0.7978845608028654;
const C = 0.044715;
const INV_SQRT2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.y * nwg.x * 64u + gid.x;
}

// tanh of a clamped argument: some drivers return NaN for tanh of large |u|.
fn tanh_safe(u: f32) -> f32 {
  return tanh(clamp(u, -15.0, 15.0));
}

// WGSL has no erf: Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7,
// about float32's resolution of values near 1.
fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

@compute @workgroup_size(64)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = 0.5 * v * (1.0 + tanh_safe(S * (v + C * v * v * v)));
}

@compute @workgroup_size(64)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  let t = tanh_safe(S * (v + C * v * v * v));
  let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * S * (1.0 + 3.0 * C * v * v);
  dx[i] = dy[i] * d;
}

@compute @workgroup_size(64)
fn gelu_erf_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = 0.5 * v * (1.0 + erf_approx(v * INV_SQRT2));
}

@compute @workgroup_size(64)
fn gelu_erf_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  let d = 0.5 * (1.0 + erf_approx(v * INV_SQRT2)) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
  dx[i] = dy[i] * d;
}

@compute @workgroup_size(64)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  y[i] = max(x[i], 0.0);
}

@compute @workgroup_size(64)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  dx[i] = select(0.0, dy[i], x[i] > 0.0);
}
