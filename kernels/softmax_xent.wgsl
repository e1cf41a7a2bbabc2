// Softmax cross-entropy over the vocabulary (paper Eq. 2-4), one row per target.
//   forward:  lse_r = log sum_c exp(z_rc),  loss_r = lse_r - z_r,t  (t < 0: ignored row, loss 0)
//   backward: dz_rc = (exp(z_rc - lse_r) - [c == t]) * dloss_r
// The forward also serves the logit lens, which needs lse to turn logits into
// probabilities. One workgroup per row: rows are few and 50,257 wide.
// Logits larger than one storage binding come in row blocks: a dispatch sees the
// block's `rows` rows, which are rows row0 .. of the per-row arrays.

struct Params { rows: u32, V: u32, row0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

var<workgroup> red: array<f32, 64>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn xent_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.rows) { return; }
  let base = r * p.V;
  var m = -3.0e38;
  for (var c = lid.x; c < p.V; c += 64u) { m = max(m, logits[base + c]); }
  let mx = reduce_max(m, lid.x);
  var s = 0.0;
  for (var c = lid.x; c < p.V; c += 64u) { s += exp(logits[base + c] - mx); }
  let total = reduce_sum(s, lid.x);
  if (lid.x == 0u) {
    let l = mx + log(total);
    let g = p.row0 + r;
    lse[g] = l;
    let t = targets[g];
    loss[g] = select(0.0, l - logits[base + u32(max(t, 0))], t >= 0);
  }
}

@group(0) @binding(3) var<storage, read> flse: array<f32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(64)
fn xent_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.rows * p.V) { return; }
  let r = i / p.V;
  let c = i % p.V;
  let g = p.row0 + r;
  let t = targets[g];
  if (t < 0) { dlogits[i] = 0.0; return; }
  let onehot = select(0.0, 1.0, u32(t) == c);
  dlogits[i] = (exp(logits[i] - flse[g]) - onehot) * dloss[g];
}
