// Rotary position embeddings in Hugging Face's rotate_half convention, applied in
// place of a copy: within the first rotaryDim columns of each of the first `heads`
// heads of a row, the pair (i, i + rotaryDim/2) turns by angle a_ri:
//   forward:  y_i = x_i cos - x_{i+h} sin,  y_{i+h} = x_{i+h} cos + x_i sin
//   backward: the same with sin negated (the inverse rotation), applied to dy.
// The caller copies x into y first, so columns that are not rotated (v, and those
// beyond rotaryDim in GPT-NeoX's partial rotary) pass through. table: [rows,
// rotaryDim], cos a_ri in columns i < rotaryDim/2 and sin a_ri after, computed in
// float64 on the CPU. One invocation per (row, head, pair).

struct Params { rows: u32, width: u32, heads: u32, hd: u32, half: u32, sign: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn rotary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  if (flat >= p.rows * p.heads * p.half) { return; }
  let i = flat % p.half;
  let rh = flat / p.half;
  let r = rh / p.heads;
  let a = r * p.width + (rh % p.heads) * p.hd + i;
  let b = a + p.half;
  let c = table[r * 2u * p.half + i];
  let s = p.sign * table[r * 2u * p.half + p.half + i];
  y[a] = x[a] * c - x[b] * s;
  y[b] = x[b] * c + x[a] * s;
}
