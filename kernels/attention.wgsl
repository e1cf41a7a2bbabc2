// Causal multi-head self-attention over fused q/k/v rows, with grouped-query heads.
// qkv: [B*T, (H + 2KV) hd] rows (q: H heads | k: KV heads | v: KV heads, head h at
// columns h*hd.. of its part), out: [B*T, H hd]. Query head h reads key/value head
// g = h / (H/KV); GPT-2's c_attn is the case KV = H (rows q | k | v of width 3d).
//   forward:  s_ij = q_i.k_j * scale (j <= i),  p = softmax_j(s),  o_i = sum_j p_ij v_j
//             saves lse_i = log sum_j exp(s_ij) instead of p (n^2 per head)
//   backward: D_i = do_i . o_i,  dP_ij = do_i . v_j,  dS_ij = p_ij (dP_ij - D_i)
//             dq_i = scale sum_j dS_ij k_j;  dk_j = scale sum_h sum_i dS_ij q_i;
//             dv_j = sum_h sum_i p_ij do_i  (sums over the query heads h of the group)
// p_ij is recomputed from q, k and lse. Pass 1 owns a query row (dq, D), pass 2 owns
// a key/value row of one KV head and loops over its group's query heads, so no
// invocation writes where another does and no float atomics are needed.
// Padding at the end of a sequence never reaches earlier positions (causality).

struct Params { B: u32, T: u32, H: u32, hd: u32, scale: f32, KV: u32 }

const MAX_HD = 128u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;

struct Item { b: u32, h: u32, i: u32, flat: u32 }

fn item(gid: vec3<u32>, nwg: vec3<u32>) -> Item {
  let flat = gid.y * nwg.x * 64u + gid.x;
  let i = flat % p.T;
  let bh = flat / p.T;
  return Item(bh / p.H, bh % p.H, i, flat);
}

fn width() -> u32 { return (p.H + 2u * p.KV) * p.hd; }
fn kv_head(h: u32) -> u32 { return h / (p.H / p.KV); }
fn q_at(b: u32, h: u32, i: u32) -> u32 { return (b * p.T + i) * width() + h * p.hd; }
// k and v take the query head h and find its key/value head.
fn k_at(b: u32, h: u32, j: u32) -> u32 { return (b * p.T + j) * width() + (p.H + kv_head(h)) * p.hd; }
fn v_at(b: u32, h: u32, j: u32) -> u32 { return (b * p.T + j) * width() + (p.H + p.KV + kv_head(h)) * p.hd; }
fn o_at(b: u32, h: u32, i: u32) -> u32 { return (b * p.T + i) * p.H * p.hd + h * p.hd; }

fn score(b: u32, h: u32, i: u32, j: u32) -> f32 {
  let qi = q_at(b, h, i);
  let kj = k_at(b, h, j);
  var s = 0.0;
  for (var c = 0u; c < p.hd; c++) { s += qkv[qi + c] * qkv[kj + c]; }
  return s * p.scale;
}

@compute @workgroup_size(64)
fn attention_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let it = item(gid, nwg);
  if (it.flat >= p.B * p.H * p.T) { return; }
  var acc: array<f32, MAX_HD>;
  var m = -3.0e38;
  var l = 0.0;
  // Online softmax: rescale the running sum when a larger score appears.
  for (var j = 0u; j <= it.i; j++) {
    let s = score(it.b, it.h, it.i, j);
    let mNew = max(m, s);
    let corr = exp(m - mNew);
    let e = exp(s - mNew);
    l = l * corr + e;
    let vj = v_at(it.b, it.h, j);
    for (var c = 0u; c < p.hd; c++) { acc[c] = acc[c] * corr + e * qkv[vj + c]; }
    m = mNew;
  }
  let o = o_at(it.b, it.h, it.i);
  for (var c = 0u; c < p.hd; c++) { out[o + c] = acc[c] / l; }
  lse[it.flat] = m + log(l);
}

@group(0) @binding(2) var<storage, read> fout: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> flse: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(6) var<storage, read_write> dsum: array<f32>; // D_i per (b, h, i)
@group(0) @binding(6) var<storage, read> dsum_in: array<f32>;

fn dot_dout_v(b: u32, h: u32, i: u32, j: u32) -> f32 {
  let oi = o_at(b, h, i);
  let vj = v_at(b, h, j);
  var s = 0.0;
  for (var c = 0u; c < p.hd; c++) { s += dout[oi + c] * qkv[vj + c]; }
  return s;
}

@compute @workgroup_size(64)
fn attention_backward_query(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let it = item(gid, nwg);
  if (it.flat >= p.B * p.H * p.T) { return; }
  let oi = o_at(it.b, it.h, it.i);
  var D = 0.0;
  for (var c = 0u; c < p.hd; c++) { D += dout[oi + c] * fout[oi + c]; }
  let lse_i = flse[it.flat];
  var dq: array<f32, MAX_HD>;
  for (var j = 0u; j <= it.i; j++) {
    let pij = exp(score(it.b, it.h, it.i, j) - lse_i);
    let ds = pij * (dot_dout_v(it.b, it.h, it.i, j) - D);
    let kj = k_at(it.b, it.h, j);
    for (var c = 0u; c < p.hd; c++) { dq[c] += ds * qkv[kj + c]; }
  }
  let qi = q_at(it.b, it.h, it.i);
  for (var c = 0u; c < p.hd; c++) { dqkv[qi + c] = dq[c] * p.scale; }
  dsum[it.flat] = D;
}

// One invocation per (b, key/value head g, key row j); lse and D are per query head.
@compute @workgroup_size(64)
fn attention_backward_key(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  if (flat >= p.B * p.KV * p.T) { return; }
  let j = flat % p.T;
  let b = flat / p.T / p.KV;
  let group = p.H / p.KV;
  let h0 = (flat / p.T % p.KV) * group;
  var dk: array<f32, MAX_HD>;
  var dv: array<f32, MAX_HD>;
  for (var h = h0; h < h0 + group; h++) {
    let rowBase = (b * p.H + h) * p.T; // flat index of (b, h, 0)
    for (var i = j; i < p.T; i++) {
      let pij = exp(score(b, h, i, j) - flse[rowBase + i]);
      let ds = pij * (dot_dout_v(b, h, i, j) - dsum_in[rowBase + i]);
      let qi = q_at(b, h, i);
      let oi = o_at(b, h, i);
      for (var c = 0u; c < p.hd; c++) {
        dk[c] += ds * qkv[qi + c];
        dv[c] += pij * dout[oi + c];
      }
    }
  }
  let kj = k_at(b, h0, j);
  let vj = v_at(b, h0, j);
  for (var c = 0u; c < p.hd; c++) {
    dqkv[kj + c] = dk[c] * p.scale;
    dqkv[vj + c] = dv[c];
  }
}

// Incremental decoding (forward only). cache: [B*T, (H + 2KV) hd] q/k/v rows for
// positions 0..T-1 of each sequence (T = cache length), the new token's row already
// written at position last[b]. One invocation per (b, h): the new token's query
// attends to keys 0..last[b], the same online softmax as attention_forward.
@group(0) @binding(7) var<storage, read> cache: array<f32>;
@group(0) @binding(8) var<storage, read> last: array<u32>;

@compute @workgroup_size(64)
fn attention_decode(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  if (flat >= p.B * p.H) { return; }
  let b = flat / p.H;
  let h = flat % p.H;
  let n = last[b];
  let qi = q_at(b, h, n);
  var acc: array<f32, MAX_HD>;
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0u; j <= n; j++) {
    let kj = k_at(b, h, j);
    var s = 0.0;
    for (var c = 0u; c < p.hd; c++) { s += cache[qi + c] * cache[kj + c]; }
    s = s * p.scale;
    let mNew = max(m, s);
    let corr = exp(m - mNew);
    let e = exp(s - mNew);
    l = l * corr + e;
    let vj = v_at(b, h, j);
    for (var c = 0u; c < p.hd; c++) { acc[c] = acc[c] * corr + e * cache[vj + c]; }
    m = mNew;
  }
  let o = (b * p.H + h) * p.hd;
  for (var c = 0u; c < p.hd; c++) { out[o + c] = acc[c] / l; }
}
