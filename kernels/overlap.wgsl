// Top-k sets of score rows without sorting them (the per-neuron view's top-100 LL
// intersection, paper Fig. 8a). Order and ties follow vocab.wgsl: larger score
// first, equal scores by lower id. A row's top k is then every id at or above its
// cut, the k-th best (score, id) pair, found by a radix select over order-
// preserving u32 keys.
//   topk_cut:      one workgroup per row: the cut as (key, id)
//   top_members:   one workgroup per row: the k ids at or above the cut, unordered
//   count_members: one invocation per (row, set): |top-k(row) ∩ set|
//   skip_ids:      one invocation per (row, id): the id's score becomes the lowest
//                  f32, so no top-k holds it while k is at most the ids not skipped

struct Params { rows: u32, V: u32, k: u32, sets: u32, setSize: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;

// Larger float, larger key.
fn key(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Invocations per row; on SwiftShader larger workgroups cost more than they share.
const WG = 64u;
const MAXIMA = 128u;
const CAP = 2048u;
const ALL_TIES = 0xffffffffu;

@group(0) @binding(2) var<storage, read_write> cutOut: array<u32>;

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> partial: array<u32, MAXIMA>;
// Stays 0 (no bound) when k exceeds the number of maxima.
var<workgroup> floorKey: u32;
var<workgroup> candidates: array<u32, CAP>;
var<workgroup> nCandidates: atomic<u32>;
var<workgroup> candidateCount: u32;
var<workgroup> state: vec3<u32>;

@compute @workgroup_size(WG)
fn topk_cut(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x;
  // The k-th largest of 128 maxima over a quarter of the row bounds the cut from
  // below (k distinct scores reach it), and only a few hundred scores of a row
  // pass it: they usually fit in workgroup memory for the radix passes.
  if (lid == 0u) {
    floorKey = 0u;
    atomicStore(&nCandidates, 0u);
  }
  for (var t = lid; t < MAXIMA; t += WG) {
    var m = 0u;
    for (var c = t; c < max(p.V / 4u, MAXIMA); c += MAXIMA) {
      if (c < p.V) { m = max(m, key(scores[r * p.V + c])); }
    }
    partial[t] = m;
  }
  workgroupBarrier();
  for (var t = lid; t < MAXIMA; t += WG) {
    let m = partial[t];
    var rank = 0u;
    for (var u = 0u; u < MAXIMA; u++) {
      let o = partial[u];
      if (o > m || (o == m && u < t)) { rank++; }
    }
    if (rank + 1u == p.k) { floorKey = m; }
  }
  let lo = workgroupUniformLoad(&floorKey);
  for (var c = lid; c < p.V; c += WG) {
    let kk = key(scores[r * p.V + c]);
    if (kk >= lo) {
      let slot = atomicAdd(&nCandidates, 1u);
      if (slot < CAP) { candidates[slot] = kk; }
    }
  }
  workgroupBarrier();
  if (lid == 0u) { candidateCount = atomicLoad(&nCandidates); }
  let total = workgroupUniformLoad(&candidateCount);
  let fits = total <= CAP;

  // The k-th largest key, eight bits per pass from the top, over the candidates,
  // or over the whole row when they overflowed (many equal scores).
  var prefix = 0u;
  var need = p.k;
  var ties = 0u;
  for (var digit = 0u; digit < 4u; digit++) {
    let shift = 24u - 8u * digit;
    for (var b = lid; b < 256u; b += WG) { atomicStore(&hist[b], 0u); }
    workgroupBarrier();
    for (var c = lid; c < select(p.V, total, fits); c += WG) {
      var kk: u32;
      if (fits) { kk = candidates[c]; } else { kk = key(scores[r * p.V + c]); }
      if (kk >= lo && (digit == 0u || (kk >> (shift + 8u)) == (prefix >> (shift + 8u)))) { atomicAdd(&hist[(kk >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var b = 255u;
      var above = 0u;
      loop {
        let h = atomicLoad(&hist[b]);
        if (above + h >= need || b == 0u) { break; }
        above += h;
        b--;
      }
      state = vec3<u32>(prefix | (b << shift), need - above, atomicLoad(&hist[b]));
    }
    let s = workgroupUniformLoad(&state);
    prefix = s.x;
    need = s.y;
    ties = s.z;
  }
  if (lid == 0u) {
    cutOut[2u * r] = prefix;
    cutOut[2u * r + 1u] = ALL_TIES;
  }
  if (need == ties) { return; }
  // Only the `need` lowest ids with the cut key are in: find the last of them,
  // each invocation counting a contiguous range of ids.
  let span = (p.V + WG - 1u) / WG;
  let begin = lid * span;
  let end = min(begin + span, p.V);
  var own = 0u;
  for (var c = begin; c < end; c++) {
    if (key(scores[r * p.V + c]) == prefix) { own++; }
  }
  partial[lid] = own;
  workgroupBarrier();
  if (lid == 0u) {
    var before = 0u;
    var t = 0u;
    loop {
      if (before + partial[t] >= need) { break; }
      before += partial[t];
      t++;
    }
    state = vec3<u32>(t, need - before, 0u);
  }
  let owner = workgroupUniformLoad(&state);
  if (lid == owner.x) {
    var left = owner.y;
    for (var c = begin; c < end; c++) {
      if (key(scores[r * p.V + c]) == prefix) {
        left--;
        if (left == 0u) {
          cutOut[2u * r + 1u] = c;
          break;
        }
      }
    }
  }
}

@group(0) @binding(2) var<storage, read> cut: array<u32>;

fn in_top(r: u32, id: u32) -> bool {
  let c = cut[2u * r];
  let kk = key(scores[r * p.V + id]);
  return kk > c || (kk == c && id <= cut[2u * r + 1u]);
}

@group(0) @binding(3) var<storage, read_write> members: array<i32>;

var<workgroup> filled: atomic<u32>;

@compute @workgroup_size(WG)
fn top_members(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x;
  // Explicit, as in topk_cut: SwiftShader's implicit zero-initialisation of
  // workgroup memory is not shared across the workgroup without a barrier.
  if (lid == 0u) { atomicStore(&filled, 0u); }
  workgroupBarrier();
  for (var c = lid; c < p.V; c += WG) {
    if (in_top(r, c)) {
      let slot = atomicAdd(&filled, 1u);
      members[r * p.k + slot] = i32(c);
    }
  }
}

@group(0) @binding(3) var<storage, read> setIds: array<i32>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(64)
fn count_members(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  if (flat >= p.rows * p.sets) { return; }
  let r = flat / p.sets;
  let s = flat % p.sets;
  var n = 0u;
  for (var t = 0u; t < p.setSize; t++) {
    if (in_top(r, u32(setIds[s * p.setSize + t]))) { n++; }
  }
  counts[flat] = n;
}

// p.k: how many ids skipIds holds. The lowest finite f32: WGSL has no -inf constant,
// and no logit comes near it.
@group(0) @binding(1) var<storage, read_write> skipped: array<f32>;
@group(0) @binding(2) var<storage, read> skipIds: array<u32>;

@compute @workgroup_size(64)
fn skip_ids(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  if (flat >= p.rows * p.k) { return; }
  skipped[(flat / p.k) * p.V + skipIds[flat % p.k]] = -0x1.fffffep+127f;
}
