// Fused logit lens: logits = h . wte^T are never stored. Each invocation owns 8 rows
// of h and one slice of the vocabulary; it computes an 8 x 16 tile of logits at a
// time and folds it at once into its (row, slice) record: running max and sum of
// exp for the log-sum-exp, the slice's top-k and bottom-k, and for each watched id
// the count of ids that rank above it. lens_merge folds the slices of a row.
//
// Order and ties are those of vocab.wgsl: best is the largest sign * logit
// (sign = +1 top, -1 bottom), ties go to the lower id.
//
// Record of (row, slice), in u32 words (floats bit-cast):
//   [0] max  [1] sum exp  [2, 2+k) top scores  [2+k, 2+2k) top ids
//   [2+2k, 2+3k) -bottom scores  [2+3k, 2+4k) bottom ids
//   [2+4k, 2+4k+W) watched counts from the top  [2+4k+W, 2+4k+2W) from the bottom
//
// No workgroup memory and a hand-written register tile, as in matmul.wgsl: on
// SwiftShader barriers cost more than the reuse they buy, and its JIT does not
// unroll loops. The watched logits come from the same tile() as the slices' logits,
// so a watched id's own logit is bit-identical in both and ties rank as in vocab.wgsl.

struct Params {
  R: u32, d: u32, V: u32, v0: u32,
  k: u32, W: u32, S: u32, nSlices: u32,
  slice0: u32, rec: u32, groups: u32,
}

const MAX_K = 128u;
const NONE = 0xffffffffu;
const LOWEST = -3.4e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;

struct Tile {
  r0a: vec4<f32>, r0b: vec4<f32>, r0c: vec4<f32>, r0d: vec4<f32>,
  r1a: vec4<f32>, r1b: vec4<f32>, r1c: vec4<f32>, r1d: vec4<f32>,
  r2a: vec4<f32>, r2b: vec4<f32>, r2c: vec4<f32>, r2d: vec4<f32>,
  r3a: vec4<f32>, r3b: vec4<f32>, r3c: vec4<f32>, r3d: vec4<f32>,
  r4a: vec4<f32>, r4b: vec4<f32>, r4c: vec4<f32>, r4d: vec4<f32>,
  r5a: vec4<f32>, r5b: vec4<f32>, r5c: vec4<f32>, r5d: vec4<f32>,
  r6a: vec4<f32>, r6b: vec4<f32>, r6c: vec4<f32>, r6d: vec4<f32>,
  r7a: vec4<f32>, r7b: vec4<f32>, r7c: vec4<f32>, r7d: vec4<f32>,
}

// Logits of rows r0..r0+7 (clamped to the last row) against the 16 wte rows that
// start at word offsets ba, bb, bc, bd.
fn tile(r0: u32, ba: vec4<u32>, bb: vec4<u32>, bc: vec4<u32>, bd: vec4<u32>) -> Tile {
  let last = p.R - 1u;
  let a0 = min(r0 + 0u, last) * p.d;
  let a1 = min(r0 + 1u, last) * p.d;
  let a2 = min(r0 + 2u, last) * p.d;
  let a3 = min(r0 + 3u, last) * p.d;
  let a4 = min(r0 + 4u, last) * p.d;
  let a5 = min(r0 + 5u, last) * p.d;
  let a6 = min(r0 + 6u, last) * p.d;
  let a7 = min(r0 + 7u, last) * p.d;
  var t: Tile;
  for (var j = 0u; j < p.d; j++) {
    let wa = vec4<f32>(wte[ba.x + j], wte[ba.y + j], wte[ba.z + j], wte[ba.w + j]);
    let wb = vec4<f32>(wte[bb.x + j], wte[bb.y + j], wte[bb.z + j], wte[bb.w + j]);
    let wc = vec4<f32>(wte[bc.x + j], wte[bc.y + j], wte[bc.z + j], wte[bc.w + j]);
    let wd = vec4<f32>(wte[bd.x + j], wte[bd.y + j], wte[bd.z + j], wte[bd.w + j]);
    let x0 = h[a0 + j]; t.r0a += x0 * wa; t.r0b += x0 * wb; t.r0c += x0 * wc; t.r0d += x0 * wd;
    let x1 = h[a1 + j]; t.r1a += x1 * wa; t.r1b += x1 * wb; t.r1c += x1 * wc; t.r1d += x1 * wd;
    let x2 = h[a2 + j]; t.r2a += x2 * wa; t.r2b += x2 * wb; t.r2c += x2 * wc; t.r2d += x2 * wd;
    let x3 = h[a3 + j]; t.r3a += x3 * wa; t.r3b += x3 * wb; t.r3c += x3 * wc; t.r3d += x3 * wd;
    let x4 = h[a4 + j]; t.r4a += x4 * wa; t.r4b += x4 * wb; t.r4c += x4 * wc; t.r4d += x4 * wd;
    let x5 = h[a5 + j]; t.r5a += x5 * wa; t.r5b += x5 * wb; t.r5c += x5 * wc; t.r5d += x5 * wd;
    let x6 = h[a6 + j]; t.r6a += x6 * wa; t.r6b += x6 * wb; t.r6c += x6 * wc; t.r6d += x6 * wd;
    let x7 = h[a7 + j]; t.r7a += x7 * wa; t.r7b += x7 * wb; t.r7c += x7 * wc; t.r7d += x7 * wd;
  }
  return t;
}

fn better(v1: f32, i1: u32, v2: f32, i2: u32) -> bool {
  return v1 > v2 || (v1 == v2 && i1 < i2);
}

// ---- lens_watched: the watched ids' logits, [R, W], for the ids in this wte block.

@group(0) @binding(3) var<storage, read> watchedIds: array<u32>;
@group(0) @binding(4) var<storage, read_write> watchedOut: array<f32>;

fn inBlock(id: u32) -> bool {
  return id >= p.v0 && id - p.v0 < p.V;
}

fn watchedAt(w: u32) -> u32 {
  let id = watchedIds[min(w, p.W - 1u)];
  return select(0u, (id - p.v0) * p.d, inBlock(id));
}

fn emitWatched(r: u32, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) {
  if (r >= p.R) { return; }
  let v = array<vec4<f32>, 4>(a, b, c, d);
  for (var w = 0u; w < p.W; w++) {
    if (inBlock(watchedIds[w])) { watchedOut[r * p.W + w] = v[w / 4u][w % 4u]; }
  }
}

// One invocation per 8 rows; up to 16 watched ids.
@compute @workgroup_size(64)
fn lens_watched(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.groups) { return; }
  let r0 = gid.x * 8u;
  let t = tile(r0,
    vec4<u32>(watchedAt(0u), watchedAt(1u), watchedAt(2u), watchedAt(3u)),
    vec4<u32>(watchedAt(4u), watchedAt(5u), watchedAt(6u), watchedAt(7u)),
    vec4<u32>(watchedAt(8u), watchedAt(9u), watchedAt(10u), watchedAt(11u)),
    vec4<u32>(watchedAt(12u), watchedAt(13u), watchedAt(14u), watchedAt(15u)));
  emitWatched(r0 + 0u, t.r0a, t.r0b, t.r0c, t.r0d);
  emitWatched(r0 + 1u, t.r1a, t.r1b, t.r1c, t.r1d);
  emitWatched(r0 + 2u, t.r2a, t.r2b, t.r2c, t.r2d);
  emitWatched(r0 + 3u, t.r3a, t.r3b, t.r3c, t.r3d);
  emitWatched(r0 + 4u, t.r4a, t.r4b, t.r4c, t.r4d);
  emitWatched(r0 + 5u, t.r5a, t.r5b, t.r5c, t.r5d);
  emitWatched(r0 + 6u, t.r6a, t.r6b, t.r6c, t.r6d);
  emitWatched(r0 + 7u, t.r7a, t.r7b, t.r7c, t.r7d);
}

// ---- lens_slices: one invocation per (8 rows, slice of S ids of this wte block).

@group(0) @binding(3) var<storage, read> watchedLogit: array<f32>;
@group(0) @binding(4) var<storage, read> watchedId: array<u32>;
@group(0) @binding(5) var<storage, read_write> part: array<u32>;

fn partF(i: u32) -> f32 { return bitcast<f32>(part[i]); }

// Inserts (v, id) into the sorted list of k scores at `vals` and ids at `ids`.
fn offerPart(vals: u32, ids: u32, v: f32, id: u32) {
  let last = p.k - 1u;
  if (!better(v, id, partF(vals + last), part[ids + last])) { return; }
  var pos = last;
  while (pos > 0u && better(v, id, partF(vals + pos - 1u), part[ids + pos - 1u])) {
    part[vals + pos] = part[vals + pos - 1u];
    part[ids + pos] = part[ids + pos - 1u];
    pos--;
  }
  part[vals + pos] = bitcast<u32>(v);
  part[ids + pos] = id;
}

fn recordOf(r: u32, slice: u32) -> u32 {
  return (r * p.nSlices + p.slice0 + slice) * p.rec;
}

fn initRecord(r: u32, slice: u32) {
  if (r >= p.R) { return; }
  let at = recordOf(r, slice);
  part[at] = bitcast<u32>(LOWEST);
  part[at + 1u] = 0u;
  for (var t = 0u; t < p.k; t++) {
    part[at + 2u + t] = bitcast<u32>(LOWEST);
    part[at + 2u + p.k + t] = NONE;
    part[at + 2u + 2u * p.k + t] = bitcast<u32>(LOWEST);
    part[at + 2u + 3u * p.k + t] = NONE;
  }
  for (var w = 0u; w < 2u * p.W; w++) { part[at + 2u + 4u * p.k + w] = 0u; }
}

// Folds the logits of ids c..c+15 (local to the block; those past `end` ignored) into row r's record.
fn consume(r: u32, slice: u32, c: u32, end: u32, a: vec4<f32>, b: vec4<f32>, cc: vec4<f32>, d: vec4<f32>) {
  if (r >= p.R) { return; }
  let at = recordOf(r, slice);
  let v = array<vec4<f32>, 4>(a, b, cc, d);
  let n = min(16u, end - c);
  var m = partF(at);
  var s = partF(at + 1u);
  let topV = at + 2u;
  let topI = topV + p.k;
  let botV = topI + p.k;
  let botI = botV + p.k;
  let cnt = botI + p.k;
  for (var j = 0u; j < n; j++) {
    let x = v[j / 4u][j % 4u];
    let id = p.v0 + c + j;
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
    offerPart(topV, topI, x, id);
    offerPart(botV, botI, -x, id);
  }
  part[at] = bitcast<u32>(m);
  part[at + 1u] = bitcast<u32>(s);
  for (var w = 0u; w < p.W; w++) {
    let t = watchedId[w];
    let tv = watchedLogit[r * p.W + w];
    var above = 0u;
    var below = 0u;
    for (var j = 0u; j < n; j++) {
      let x = v[j / 4u][j % 4u];
      let id = p.v0 + c + j;
      if (id != t) {
        above += select(0u, 1u, better(x, id, tv, t));
        below += select(0u, 1u, better(-x, id, -tv, t));
      }
    }
    part[cnt + w] += above;
    part[cnt + p.W + w] += below;
  }
}

fn idsAt(c: u32) -> vec4<u32> {
  let last = p.V - 1u;
  return vec4<u32>(min(c, last), min(c + 1u, last), min(c + 2u, last), min(c + 3u, last)) * p.d;
}

@compute @workgroup_size(64)
fn lens_slices(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // Consecutive invocations take consecutive row groups of one slice, so they read the same wte rows.
  let flat = gid.y * nwg.x * 64u + gid.x;
  let g = flat % p.groups;
  let slice = flat / p.groups;
  let start = slice * p.S;
  if (start >= p.V) { return; }
  let end = min(start + p.S, p.V);
  let r0 = g * 8u;
  for (var i = 0u; i < 8u; i++) { initRecord(r0 + i, slice); }
  for (var c = start; c < end; c += 16u) {
    let t = tile(r0, idsAt(c), idsAt(c + 4u), idsAt(c + 8u), idsAt(c + 12u));
    consume(r0 + 0u, slice, c, end, t.r0a, t.r0b, t.r0c, t.r0d);
    consume(r0 + 1u, slice, c, end, t.r1a, t.r1b, t.r1c, t.r1d);
    consume(r0 + 2u, slice, c, end, t.r2a, t.r2b, t.r2c, t.r2d);
    consume(r0 + 3u, slice, c, end, t.r3a, t.r3b, t.r3c, t.r3d);
    consume(r0 + 4u, slice, c, end, t.r4a, t.r4b, t.r4c, t.r4d);
    consume(r0 + 5u, slice, c, end, t.r5a, t.r5b, t.r5c, t.r5d);
    consume(r0 + 6u, slice, c, end, t.r6a, t.r6b, t.r6c, t.r6d);
    consume(r0 + 7u, slice, c, end, t.r7a, t.r7b, t.r7c, t.r7d);
  }
}

// ---- lens_merge: one invocation per row folds its nSlices records.
// Output per row, u32 words: [0] log-sum-exp, [1, 1+k) top scores, [1+k, 1+2k) top ids,
// [1+2k, 1+3k) bottom scores, [1+3k, 1+4k) bottom ids, then W ranks from the top and
// W from the bottom (0-based).

@group(0) @binding(1) var<storage, read> parts: array<u32>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;

var<private> bestVal: array<f32, MAX_K>;
var<private> bestId: array<u32, MAX_K>;

fn offer(v: f32, id: u32) {
  let last = p.k - 1u;
  if (!better(v, id, bestVal[last], bestId[last])) { return; }
  var pos = last;
  while (pos > 0u && better(v, id, bestVal[pos - 1u], bestId[pos - 1u])) {
    bestVal[pos] = bestVal[pos - 1u];
    bestId[pos] = bestId[pos - 1u];
    pos--;
  }
  bestVal[pos] = v;
  bestId[pos] = id;
}

// Merges list `which` (0 top, 1 bottom) of every slice of row r into result[out..].
fn mergeList(r: u32, which: u32, out: u32, sign: f32) {
  for (var t = 0u; t < p.k; t++) { bestVal[t] = LOWEST; bestId[t] = NONE; }
  for (var s = 0u; s < p.nSlices; s++) {
    let vals = (r * p.nSlices + s) * p.rec + 2u + 2u * which * p.k;
    for (var t = 0u; t < p.k; t++) {
      let id = parts[vals + p.k + t];
      if (id != NONE) { offer(bitcast<f32>(parts[vals + t]), id); }
    }
  }
  for (var t = 0u; t < p.k; t++) {
    result[out + t] = bitcast<u32>(sign * bestVal[t]);
    result[out + p.k + t] = bestId[t];
  }
}

@compute @workgroup_size(64)
fn lens_merge(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.R) { return; }
  let first = r * p.nSlices * p.rec;
  var m = LOWEST;
  for (var s = 0u; s < p.nSlices; s++) { m = max(m, bitcast<f32>(parts[first + s * p.rec])); }
  var sum = 0.0;
  for (var s = 0u; s < p.nSlices; s++) {
    let at = first + s * p.rec;
    sum += bitcast<f32>(parts[at + 1u]) * exp(bitcast<f32>(parts[at]) - m);
  }
  let out = r * (1u + 4u * p.k + 2u * p.W);
  result[out] = bitcast<u32>(m + log(sum));
  mergeList(r, 0u, out + 1u, 1.0);
  mergeList(r, 1u, out + 1u + 2u * p.k, -1.0);
  for (var w = 0u; w < 2u * p.W; w++) {
    var n = 0u;
    for (var s = 0u; s < p.nSlices; s++) { n += parts[first + s * p.rec + 2u + 4u * p.k + w]; }
    result[out + 1u + 4u * p.k + w] = n;
  }
}
