// Rows of a matrix as an rgba32float texture, for the kernels that fetch four
// consecutive values of a row at once on the CPU adapters (lens_texture,
// matmul_texture): texel (q, r) = X[offset + r * stride + 4q .. + 3]. One invocation
// per texel.

struct Params { rows: u32, quads: u32, offset: u32, stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var rowsOut: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(64)
fn rows_texture(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * 64u + gid.x;
  if (t >= p.rows * p.quads) { return; }
  let r = t / p.quads;
  let q = t % p.quads;
  let at = p.offset + r * p.stride + 4u * q;
  textureStore(rowsOut, vec2<u32>(q, r), vec4<f32>(X[at], X[at + 1u], X[at + 2u], X[at + 3u]));
}
