// Columns of each row put in another order: y[r, c] = x[r, order[c]], order a
// permutation of 0..cols-1. GPT-NeoX's query_key_value output is [q_h | k_h | v_h]
// for each head h; attention and rotary read q | k | v, so the model regroups it
// here rather than reordering stored weight rows (see docs/DESIGN.md). The backward
// is the same gather with the inverse permutation, so no invocation writes where
// another does. One invocation per element.

struct Params { rows: u32, cols: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> order: array<i32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn permute_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  if (flat >= p.rows * p.cols) { return; }
  let r = flat / p.cols;
  y[flat] = x[r * p.cols + u32(order[flat % p.cols])];
}
