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
  r0a: vec4<f32>, r0b: vec4<f32>,
  r1a: vec4<f32>, r1b: vec4<f32>,
  r2a: vec4<f32>, r2b: vec4<f32>,
  r3a: vec4<f32>, r3b: vec4<f32>,
  r4a: vec4<f32>, r4b: vec4<f32>,
  r5a: vec4<f32>, r5b: vec4<f32>,
  r6a: vec4<f32>, r6b: vec4<f32>,
  r7a: vec4<f32>, r7b: vec4<f32>,
  r8a: vec4<f32>, r8b: vec4<f32>,
  r9a: vec4<f32>, r9b: vec4<f32>,
  r10a: vec4<f32>, r10b: vec4<f32>,
  r11a: vec4<f32>, r11b: vec4<f32>,
  r12a: vec4<f32>, r12b: vec4<f32>,
  r13a: vec4<f32>, r13b: vec4<f32>,
  r14a: vec4<f32>, r14b: vec4<f32>,
  r15a: vec4<f32>, r15b: vec4<f32>,
}

// Logits of rows r0..r0+15 (clamped to the last row) against the 8 wte rows that
// start at word offsets ba, bb.
fn tile(r0: u32, ba: vec4<u32>, bb: vec4<u32>) -> Tile {
  let last = p.R - 1u;
  let a0 = min(r0 + 0u, last) * p.d;
  let a1 = min(r0 + 1u, last) * p.d;
  let a2 = min(r0 + 2u, last) * p.d;
  let a3 = min(r0 + 3u, last) * p.d;
  let a4 = min(r0 + 4u, last) * p.d;
  let a5 = min(r0 + 5u, last) * p.d;
  let a6 = min(r0 + 6u, last) * p.d;
  let a7 = min(r0 + 7u, last) * p.d;
  let a8 = min(r0 + 8u, last) * p.d;
  let a9 = min(r0 + 9u, last) * p.d;
  let a10 = min(r0 + 10u, last) * p.d;
  let a11 = min(r0 + 11u, last) * p.d;
  let a12 = min(r0 + 12u, last) * p.d;
  let a13 = min(r0 + 13u, last) * p.d;
  let a14 = min(r0 + 14u, last) * p.d;
  let a15 = min(r0 + 15u, last) * p.d;
  var t: Tile;
  for (var j = 0u; j < p.d; j++) {
    let wa = vec4<f32>(wte[ba.x + j], wte[ba.y + j], wte[ba.z + j], wte[ba.w + j]);
    let wb = vec4<f32>(wte[bb.x + j], wte[bb.y + j], wte[bb.z + j], wte[bb.w + j]);
    let x0 = h[a0 + j]; t.r0a += x0 * wa; t.r0b += x0 * wb;
    let x1 = h[a1 + j]; t.r1a += x1 * wa; t.r1b += x1 * wb;
    let x2 = h[a2 + j]; t.r2a += x2 * wa; t.r2b += x2 * wb;
    let x3 = h[a3 + j]; t.r3a += x3 * wa; t.r3b += x3 * wb;
    let x4 = h[a4 + j]; t.r4a += x4 * wa; t.r4b += x4 * wb;
    let x5 = h[a5 + j]; t.r5a += x5 * wa; t.r5b += x5 * wb;
    let x6 = h[a6 + j]; t.r6a += x6 * wa; t.r6b += x6 * wb;
    let x7 = h[a7 + j]; t.r7a += x7 * wa; t.r7b += x7 * wb;
    let x8 = h[a8 + j]; t.r8a += x8 * wa; t.r8b += x8 * wb;
    let x9 = h[a9 + j]; t.r9a += x9 * wa; t.r9b += x9 * wb;
    let x10 = h[a10 + j]; t.r10a += x10 * wa; t.r10b += x10 * wb;
    let x11 = h[a11 + j]; t.r11a += x11 * wa; t.r11b += x11 * wb;
    let x12 = h[a12 + j]; t.r12a += x12 * wa; t.r12b += x12 * wb;
    let x13 = h[a13 + j]; t.r13a += x13 * wa; t.r13b += x13 * wb;
    let x14 = h[a14 + j]; t.r14a += x14 * wa; t.r14b += x14 * wb;
    let x15 = h[a15 + j]; t.r15a += x15 * wa; t.r15b += x15 * wb;
  }
  return t;
}

// The tile as an array, so the per-row code below is emitted once, not 16 times:
// lavapipe inlines every call, and 16 inlined copies took minutes to compile.
var<private> tileRows: array<vec4<f32>, 32>;

fn spill(t: Tile) {
  tileRows[0] = t.r0a; tileRows[1] = t.r0b;
  tileRows[2] = t.r1a; tileRows[3] = t.r1b;
  tileRows[4] = t.r2a; tileRows[5] = t.r2b;
  tileRows[6] = t.r3a; tileRows[7] = t.r3b;
  tileRows[8] = t.r4a; tileRows[9] = t.r4b;
  tileRows[10] = t.r5a; tileRows[11] = t.r5b;
  tileRows[12] = t.r6a; tileRows[13] = t.r6b;
  tileRows[14] = t.r7a; tileRows[15] = t.r7b;
  tileRows[16] = t.r8a; tileRows[17] = t.r8b;
  tileRows[18] = t.r9a; tileRows[19] = t.r9b;
  tileRows[20] = t.r10a; tileRows[21] = t.r10b;
  tileRows[22] = t.r11a; tileRows[23] = t.r11b;
  tileRows[24] = t.r12a; tileRows[25] = t.r12b;
  tileRows[26] = t.r13a; tileRows[27] = t.r13b;
  tileRows[28] = t.r14a; tileRows[29] = t.r14b;
  tileRows[30] = t.r15a; tileRows[31] = t.r15b;
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

fn emitWatched(r: u32, a: vec4<f32>, b: vec4<f32>) {
  if (r >= p.R) { return; }
  let v = array<vec4<f32>, 2>(a, b);
  for (var w = 0u; w < p.W; w++) {
    if (inBlock(watchedIds[w])) { watchedOut[r * p.W + w] = v[w / 4u][w % 4u]; }
  }
}

// One invocation per 8 rows; up to 16 watched ids.
@compute @workgroup_size(64)
fn lens_watched(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.groups) { return; }
  let r0 = gid.x * 16u;
  let t = tile(r0,
    vec4<u32>(watchedAt(0u), watchedAt(1u), watchedAt(2u), watchedAt(3u)),
    vec4<u32>(watchedAt(4u), watchedAt(5u), watchedAt(6u), watchedAt(7u)));
  spill(t);
  for (var i = 0u; i < 16u; i++) { emitWatched(r0 + i, tileRows[2u * i], tileRows[2u * i + 1u]); }
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
fn consume(r: u32, slice: u32, c: u32, end: u32, a: vec4<f32>, b: vec4<f32>) {
  if (r >= p.R) { return; }
  let at = recordOf(r, slice);
  let v = array<vec4<f32>, 2>(a, b);
  let n = min(8u, end - c);
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
  // Slice i takes tiles i, i + S, i + 2S, ... of 16 ids: neighbouring invocations
  // read neighbouring wte rows, as neighbouring columns do in matmul.wgsl.
  let flat = gid.y * nwg.x * 64u + gid.x;
  let slice = flat % p.S;
  let g = flat / p.S;
  if (g >= p.groups) { return; }
  let r0 = g * 16u;
  for (var i = 0u; i < 16u; i++) { initRecord(r0 + i, slice); }
  for (var c = slice * 8u; c < p.V; c += p.S * 8u) {
    let end = min(c + 8u, p.V);
    let t = tile(r0, idsAt(c), idsAt(c + 4u));
    spill(t);
    for (var i = 0u; i < 16u; i++) { consume(r0 + i, slice, c, end, tileRows[2u * i], tileRows[2u * i + 1u]); }
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
