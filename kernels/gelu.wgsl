// GELU, GPT-2's tanh approximation (`gelu_new`):
//   y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// backward: dx = dy * gelu'(x)
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const S = 0.7978845608028654;
const C = 0.044715;

// tanh of a clamped argument: some drivers return NaN for tanh of large |u|.
fn tanh_safe(u: f32) -> f32 {
  return tanh(clamp(u, -15.0, 15.0));
}

@compute @workgroup_size(64)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = 0.5 * v * (1.0 + tanh_safe(S * (v + C * v * v * v)));
}

@compute @workgroup_size(64)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.n) { return; }
  let v = x[i];
  let t = tanh_safe(S * (v + C * v * v * v));
  let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * S * (1.0 + 3.0 * C * v * v);
  dx[i] = dy[i] * d;
}
