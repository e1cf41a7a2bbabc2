// The gated MLP activation of Llama, Mistral and Qwen2 (SwiGLU), one output element
// per invocation. gu: [rows, 2f], each row [gate | up] (the two projections of one x,
// fused in one product); h: [rows, f].
//   forward:  h = silu(g) * u,  silu(g) = g * sigmoid(g)
//   backward: dg = dh * u * sigmoid(g) * (1 + g * (1 - sigmoid(g))),  du = dh * silu(g)

struct Params { rows: u32, f: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gu: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@group(0) @binding(2) var<storage, read> dh: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgu: array<f32>;

// exp(-g) overflows to +inf for g below about -88; 1 / (1 + inf) = 0 is then exact.
fn sigmoid(g: f32) -> f32 { return 1.0 / (1.0 + exp(-g)); }

// (index into h, index of its gate in gu); callers check the first against the size.
fn at(gid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let i = gid.y * nwg.x * 64u + gid.x;
  return vec2<u32>(i, (i / p.f) * 2u * p.f + i % p.f);
}

@compute @workgroup_size(64)
fn silu_gate_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let ix = at(gid, nwg);
  if (ix.x >= p.rows * p.f) { return; }
  let g = gu[ix.y];
  h[ix.x] = g * sigmoid(g) * gu[ix.y + p.f];
}

@compute @workgroup_size(64)
fn silu_gate_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let ix = at(gid, nwg);
  if (ix.x >= p.rows * p.f) { return; }
  let g = gu[ix.y];
  let s = sigmoid(g);
  dgu[ix.y] = dh[ix.x] * gu[ix.y + p.f] * s * (1.0 + g * (1.0 - s));
  dgu[ix.y + p.f] = dh[ix.x] * g * s;
}
