// Fused logit lens: logits = h . wte^T are never stored. Each invocation owns 16 rows
// of h and one slice of the vocabulary; it computes a 16 x 8 tile of logits at a
// time and folds it at once into its (row, slice) record: running max and sum of
// exp for the log-sum-exp, the slice's top-k and bottom-k, and for each watched id
// the count of ids that rank above it. lens_merge folds the slices of a row.
//
// Order and ties are those of vocab.wgsl: best is the largest sign * logit
// (sign = +1 top, -1 bottom), ties go to the lower id.
//
// Ids set in the `skip` bit mask (rows the tokenizer has no token for, special
// tokens) enter neither list and are never counted above a watched id; they stay in
// the log-sum-exp, so probabilities remain the model's softmax over all its rows. A
// watched id that is itself skipped is still ranked among the ids that are not.
//
// Record of (row, slice), in u32 words (floats bit-cast):
//   [0] max  [1] sum exp  [2, 2+k) top scores  [2+k, 2+2k) top ids
//   [2+2k, 2+3k) -bottom scores  [2+3k, 2+4k) bottom ids
//   [2+4k, 2+4k+W) watched counts from the top  [2+4k+W, 2+4k+2W) from the bottom
//
// No workgroup memory and a hand-written register tile, as in matmul.wgsl: on
// SwiftShader barriers cost more than the reuse they buy, and its JIT neither
// unrolls loops nor keeps arrays or structs in registers. The watched logits come
// from the same entry point (mode 1), so a watched id's own logit is bit-identical
// to the one its slice computes and ties rank as in vocab.wgsl.

struct Params {
  R: u32, d: u32, V: u32, v0: u32,
  k: u32, W: u32, S: u32, nSlices: u32,
  slice0: u32, rec: u32, groups: u32, mode: u32,
  // lens_texture: ids c0 .. c1 - 1 of the block (whole tiles) are in wteChunk, row
  // id - c0 at texels (id - c0) * texStride ...; the watched ids' rows are rows 0 .. W - 1.
  c0: u32, c1: u32, texStride: u32, pad: u32,
}

const LOWEST = -3.4e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> wte: array<WeightWord>;
@group(0) @binding(3) var<storage, read> watchedId: array<u32>;
@group(0) @binding(4) var<storage, read> watchedLogit: array<f32>;
@group(0) @binding(5) var<storage, read_write> watchedOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<u32>;
// Bit id % 32 of word id / 32 is set for an id the lists and ranks leave out.
@group(0) @binding(7) var<storage, read> skip: array<u32>;

// A 16-row x 8-id tile of logits, in memory so the per-row code is emitted once:
// lavapipe inlines every call, and 16 inlined copies took minutes to compile.
var<private> tileRows: array<vec4<f32>, 32>;
// 1 for each id of the current tile that the lists and ranks keep: ids c..c+3, c+4..c+7.
var<private> keptLo: vec4<u32>;
var<private> keptHi: vec4<u32>;

fn keptAt(id: vec4<u32>) -> vec4<u32> {
  let bits = vec4<u32>(skip[id.x / 32u], skip[id.y / 32u], skip[id.z / 32u], skip[id.w / 32u]) >> (id % vec4<u32>(32u));
  return vec4<u32>(1u) - (bits & vec4<u32>(1u));
}

fn keptLane(j: u32) -> bool {
  return select(keptHi[j % 4u], keptLo[j % 4u], j < 4u) == 1u;
}

// A 16-bit embedding stays packed (weights-*.wgsl).
fn readWte(i: u32) -> f32 { return decodeWeight(wte[weightWord(i)], i); }

fn inBlock(id: u32) -> bool {
  return id >= p.v0 && id - p.v0 < p.V;
}

// Word offset of watched id w's wte row (row 0 for ids in other blocks, whose logits are dropped).
fn watchedAt(w: u32) -> u32 {
  let id = watchedId[min(w, p.W - 1u)];
  return select(0u, (id - p.v0) * p.d, inBlock(id));
}

fn emitWatched(r: u32, i: u32) {
  if (r >= p.R) { return; }
  for (var w = 0u; w < p.W; w++) {
    if (inBlock(watchedId[w])) { watchedOut[r * p.W + w] = tileRows[2u * i + w / 4u][w % 4u]; }
  }
}

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

// The fold's state for the invocation's 16 rows lives here between tiles and goes to
// `part` only at the end of a dispatch: each storage access costs llvmpipe a guarded
// load per lane (see lens_texture), and reading and writing the records for every
// tile took over a third of the kernel's time there. The lists stay in `part`: a tile
// reaches them only when it beats a list's k-th score, kept here.
var<private> rowMax: array<f32, 16>;
var<private> rowSum: array<f32, 16>;
var<private> topKth: array<f32, 16>;
var<private> botKth: array<f32, 16>;
// For watched ids 0-3 (Lo) and 4-7 (Hi): per row, the counts of ids above and below
// each, and each one's logit; the ids, and which of the eight exist (w < W).
var<private> aboveLo: array<vec4<u32>, 16>;
var<private> aboveHi: array<vec4<u32>, 16>;
var<private> belowLo: array<vec4<u32>, 16>;
var<private> belowHi: array<vec4<u32>, 16>;
var<private> tieLo: array<vec4<f32>, 16>;
var<private> tieHi: array<vec4<f32>, 16>;
var<private> watchLo: vec4<u32>;
var<private> watchHi: vec4<u32>;
var<private> watchedLo: vec4<bool>;
var<private> watchedHi: vec4<bool>;

// Offsets of a record's parts (see the top of this file).
fn topAt(at: u32) -> u32 { return at + 2u; }
fn botAt(at: u32) -> u32 { return at + 2u + 2u * p.k; }
fn countAt(at: u32, w: u32) -> u32 { return at + 2u + 4u * p.k + w; }

fn watchedIds(w: vec4<u32>) -> vec4<u32> {
  let last = p.W - 1u;
  return vec4<u32>(watchedId[min(w.x, last)], watchedId[min(w.y, last)], watchedId[min(w.z, last)], watchedId[min(w.w, last)]);
}

// Words w of a row's record (counts) or of watchedLogit, for the four watched ids w; 0 past W.
fn countsAt(at: u32, w: vec4<u32>) -> vec4<u32> {
  let last = p.W - 1u;
  let v = vec4<u32>(part[at + min(w.x, last)], part[at + min(w.y, last)], part[at + min(w.z, last)], part[at + min(w.w, last)]);
  return select(vec4<u32>(0u), v, w < vec4<u32>(p.W));
}
fn logitsAt(at: u32, w: vec4<u32>) -> vec4<f32> {
  let last = p.W - 1u;
  return vec4<f32>(watchedLogit[at + min(w.x, last)], watchedLogit[at + min(w.y, last)], watchedLogit[at + min(w.z, last)], watchedLogit[at + min(w.w, last)]);
}

fn loadState(r0: u32, slice: u32) {
  let wLo = vec4<u32>(0u, 1u, 2u, 3u);
  let wHi = wLo + 4u;
  watchedLo = wLo < vec4<u32>(p.W);
  watchedHi = wHi < vec4<u32>(p.W);
  let watching = p.W > 0u;
  if (watching) {
    watchLo = watchedIds(wLo);
    watchHi = watchedIds(wHi);
  }
  for (var i = 0u; i < 16u; i++) {
    let r = r0 + i;
    if (r >= p.R) { break; }
    let at = recordOf(r, slice);
    rowMax[i] = partF(at);
    rowSum[i] = partF(at + 1u);
    topKth[i] = partF(topAt(at) + p.k - 1u);
    botKth[i] = partF(botAt(at) + p.k - 1u);
    if (!watching) { continue; }
    aboveLo[i] = countsAt(countAt(at, 0u), wLo);
    aboveHi[i] = countsAt(countAt(at, 0u), wHi);
    belowLo[i] = countsAt(countAt(at, p.W), wLo);
    belowHi[i] = countsAt(countAt(at, p.W), wHi);
    tieLo[i] = logitsAt(r * p.W, wLo);
    tieHi[i] = logitsAt(r * p.W, wHi);
  }
}
fn storeState(r0: u32, slice: u32) {
  for (var i = 0u; i < 16u; i++) {
    let r = r0 + i;
    if (r >= p.R) { break; }
    let at = recordOf(r, slice);
    part[at] = bitcast<u32>(rowMax[i]);
    part[at + 1u] = bitcast<u32>(rowSum[i]);
    for (var w = 0u; w < p.W; w++) {
      let q = w % 4u;
      part[countAt(at, w)] = select(aboveHi[i][q], aboveLo[i][q], w < 4u);
      part[countAt(at, p.W + w)] = select(belowHi[i][q], belowLo[i][q], w < 4u);
    }
  }
}

struct Counts { above: vec4<u32>, below: vec4<u32> }

// Adds 1 for each of four watched ids t (those that exist) that a kept id with logit v
// ranks above, and below: ties go to the lower id; a watched id is not counted against itself.
fn countId(n: Counts, v: f32, id: u32, kept: bool, t: vec4<u32>, tie: vec4<f32>, exists: vec4<bool>) -> Counts {
  let mine = exists & (vec4<u32>(id) != t) & vec4<bool>(kept);
  let first = (vec4<f32>(v) == tie) & (vec4<u32>(id) < t);
  let one = vec4<u32>(1u);
  let zero = vec4<u32>(0u);
  return Counts(n.above + select(zero, one, mine & ((vec4<f32>(v) > tie) | first)), n.below + select(zero, one, mine & ((vec4<f32>(v) < tie) | first)));
}

// The counts of a row's tile of 8 ids (lo: c..c+3, hi: c+4..c+7) against four watched
// ids. A loop, not 8 calls: as fast on lavapipe, and 4 MiB less of SwiftShader's memory.
fn countTile(lo: vec4<f32>, hi: vec4<f32>, idLo: vec4<u32>, listLo: vec4<bool>, listHi: vec4<bool>, t: vec4<u32>, tie: vec4<f32>, exists: vec4<bool>) -> Counts {
  var n = Counts(vec4<u32>(0u), vec4<u32>(0u));
  for (var j = 0u; j < 8u; j++) {
    let q = j % 4u;
    n = countId(n, select(hi[q], lo[q], j < 4u), idLo.x + j, select(listHi[q], listLo[q], j < 4u), t, tie, exists);
  }
  return n;
}

// Folds the logits of ids c..c+7 (local to the block; those past `end` ignored) into
// row r's state (row i of the invocation's 16).
// Whole-vector work first: most tiles change neither list, and a per-id loop with
// per-lane storage reads costs SwiftShader more than the tile's dot products.
fn consume(r: u32, i: u32, slice: u32, c: u32, end: u32) {
  if (r >= p.R) { return; }
  let n = min(8u, end - c);
  let lo = tileRows[2u * i];
  let hi = tileRows[2u * i + 1u];
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
  let okLo = lane < vec4<u32>(n);
  let okHi = lane + 4u < vec4<u32>(n);
  // Ids the lists and ranks see.
  let listLo = okLo & (keptLo == vec4<u32>(1u));
  let listHi = okHi & (keptHi == vec4<u32>(1u));
  let idLo = lane + (p.v0 + c);
  let idHi = idLo + 4u;
  let top = max(select(vec4<f32>(LOWEST), lo, listLo), select(vec4<f32>(LOWEST), hi, listHi));
  let bottom = min(select(vec4<f32>(-LOWEST), lo, listLo), select(vec4<f32>(-LOWEST), hi, listHi));
  let mx = max(max(top.x, top.y), max(top.z, top.w));
  let mn = min(min(bottom.x, bottom.y), min(bottom.z, bottom.w));
  let full = max(select(vec4<f32>(LOWEST), lo, okLo), select(vec4<f32>(LOWEST), hi, okHi));
  let m = rowMax[i];
  let m2 = max(m, max(max(full.x, full.y), max(full.z, full.w)));
  let e = select(vec4<f32>(0.0), exp(lo - m2), okLo) + select(vec4<f32>(0.0), exp(hi - m2), okHi);
  rowMax[i] = m2;
  rowSum[i] = rowSum[i] * exp(m - m2) + e.x + e.y + e.z + e.w;
  // Strict: an id equal to the k-th may still enter on a lower id.
  if (!(mx < topKth[i]) || !(-mn < botKth[i])) {
    let at = recordOf(r, slice);
    let topV = topAt(at);
    let botV = botAt(at);
    if (!(mx < topKth[i])) {
      for (var j = 0u; j < n; j++) {
        if (keptLane(j)) { offerPart(topV, topV + p.k, tileRows[2u * i + j / 4u][j % 4u], p.v0 + c + j); }
      }
      topKth[i] = partF(topV + p.k - 1u);
    }
    if (!(-mn < botKth[i])) {
      for (var j = 0u; j < n; j++) {
        if (keptLane(j)) { offerPart(botV, botV + p.k, -tileRows[2u * i + j / 4u][j % 4u], p.v0 + c + j); }
      }
      botKth[i] = partF(botV + p.k - 1u);
    }
  }
  if (p.W == 0u) { return; }
  let first = countTile(lo, hi, idLo, listLo, listHi, watchLo, tieLo[i], watchedLo);
  aboveLo[i] += first.above;
  belowLo[i] += first.below;
  if (p.W <= 4u) { return; }
  let more = countTile(lo, hi, idLo, listLo, listHi, watchHi, tieHi[i], watchedHi);
  aboveHi[i] += more.above;
  belowHi[i] += more.below;
}

fn idsAt(c: u32) -> vec4<u32> {
  let last = p.V - 1u;
  return vec4<u32>(min(c, last), min(c + 1u, last), min(c + 2u, last), min(c + 3u, last)) * p.d;
}

// The 16 x 8 tile in tileRows into its 16 rows' records, or to the watched logits.
fn foldRows(r0: u32, slice: u32, c: u32) {
  keptLo = keptAt(vec4<u32>(0u, 1u, 2u, 3u) + (p.v0 + c));
  keptHi = keptAt(vec4<u32>(4u, 5u, 6u, 7u) + (p.v0 + c));
  for (var i = 0u; i < 16u; i++) { consume(r0 + i, i, slice, c, min(c + 8u, p.V)); }
}
fn emitTile(r0: u32) {
  for (var i = 0u; i < 16u; i++) { emitWatched(r0 + i, i); }
}

// Mode 1 is done after its one tile: false.
fn foldTile(r0: u32, slice: u32, c: u32) -> bool {
  if (p.mode == 1u) {
    emitTile(r0);
    return false;
  }
  foldRows(r0, slice, c);
  return true;
}

// mode 0: invocation (16 rows, slice); slice i takes tiles i, i + S, i + 2S, ... of 8
// ids, so neighbouring invocations read neighbouring wte rows, as in matmul.wgsl.
// mode 1 (S = 1): one tile per 16 rows against the (up to 8) watched ids.
@compute @workgroup_size(64)
fn lens_tiles(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = gid.y * nwg.x * 64u + gid.x;
  let slice = flat % p.S;
  let g = flat / p.S;
  if (g >= p.groups) { return; }
  let watching = p.mode == 1u;
  let r0 = g * 16u;
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
  if (!watching) {
    for (var i = 0u; i < 16u; i++) { initRecord(r0 + i, slice); }
    loadState(r0, slice);
  }
  for (var c = slice * 8u; c < p.V; c += p.S * 8u) {
    let ba = select(idsAt(c), vec4<u32>(watchedAt(0u), watchedAt(1u), watchedAt(2u), watchedAt(3u)), watching);
    let bb = select(idsAt(c + 4u), vec4<u32>(watchedAt(4u), watchedAt(5u), watchedAt(6u), watchedAt(7u)), watching);
    var c0l = vec4<f32>(0.0); var c0h = vec4<f32>(0.0);
    var c1l = vec4<f32>(0.0); var c1h = vec4<f32>(0.0);
    var c2l = vec4<f32>(0.0); var c2h = vec4<f32>(0.0);
    var c3l = vec4<f32>(0.0); var c3h = vec4<f32>(0.0);
    var c4l = vec4<f32>(0.0); var c4h = vec4<f32>(0.0);
    var c5l = vec4<f32>(0.0); var c5h = vec4<f32>(0.0);
    var c6l = vec4<f32>(0.0); var c6h = vec4<f32>(0.0);
    var c7l = vec4<f32>(0.0); var c7h = vec4<f32>(0.0);
    var c8l = vec4<f32>(0.0); var c8h = vec4<f32>(0.0);
    var c9l = vec4<f32>(0.0); var c9h = vec4<f32>(0.0);
    var c10l = vec4<f32>(0.0); var c10h = vec4<f32>(0.0);
    var c11l = vec4<f32>(0.0); var c11h = vec4<f32>(0.0);
    var c12l = vec4<f32>(0.0); var c12h = vec4<f32>(0.0);
    var c13l = vec4<f32>(0.0); var c13h = vec4<f32>(0.0);
    var c14l = vec4<f32>(0.0); var c14h = vec4<f32>(0.0);
    var c15l = vec4<f32>(0.0); var c15h = vec4<f32>(0.0);
    for (var j = 0u; j < p.d; j++) {
      let wl = vec4<f32>(readWte(ba.x + j), readWte(ba.y + j), readWte(ba.z + j), readWte(ba.w + j));
      let wh = vec4<f32>(readWte(bb.x + j), readWte(bb.y + j), readWte(bb.z + j), readWte(bb.w + j));
      let x0 = h[a0 + j]; c0l += x0 * wl; c0h += x0 * wh;
      let x1 = h[a1 + j]; c1l += x1 * wl; c1h += x1 * wh;
      let x2 = h[a2 + j]; c2l += x2 * wl; c2h += x2 * wh;
      let x3 = h[a3 + j]; c3l += x3 * wl; c3h += x3 * wh;
      let x4 = h[a4 + j]; c4l += x4 * wl; c4h += x4 * wh;
      let x5 = h[a5 + j]; c5l += x5 * wl; c5h += x5 * wh;
      let x6 = h[a6 + j]; c6l += x6 * wl; c6h += x6 * wh;
      let x7 = h[a7 + j]; c7l += x7 * wl; c7h += x7 * wh;
      let x8 = h[a8 + j]; c8l += x8 * wl; c8h += x8 * wh;
      let x9 = h[a9 + j]; c9l += x9 * wl; c9h += x9 * wh;
      let x10 = h[a10 + j]; c10l += x10 * wl; c10h += x10 * wh;
      let x11 = h[a11 + j]; c11l += x11 * wl; c11h += x11 * wh;
      let x12 = h[a12 + j]; c12l += x12 * wl; c12h += x12 * wh;
      let x13 = h[a13 + j]; c13l += x13 * wl; c13h += x13 * wh;
      let x14 = h[a14 + j]; c14l += x14 * wl; c14h += x14 * wh;
      let x15 = h[a15 + j]; c15l += x15 * wl; c15h += x15 * wh;
    }
    tileRows[0] = c0l; tileRows[1] = c0h;
    tileRows[2] = c1l; tileRows[3] = c1h;
    tileRows[4] = c2l; tileRows[5] = c2h;
    tileRows[6] = c3l; tileRows[7] = c3h;
    tileRows[8] = c4l; tileRows[9] = c4h;
    tileRows[10] = c5l; tileRows[11] = c5h;
    tileRows[12] = c6l; tileRows[13] = c6h;
    tileRows[14] = c7l; tileRows[15] = c7h;
    tileRows[16] = c8l; tileRows[17] = c8h;
    tileRows[18] = c9l; tileRows[19] = c9h;
    tileRows[20] = c10l; tileRows[21] = c10h;
    tileRows[22] = c11l; tileRows[23] = c11h;
    tileRows[24] = c12l; tileRows[25] = c12h;
    tileRows[26] = c13l; tileRows[27] = c13h;
    tileRows[28] = c14l; tileRows[29] = c14h;
    tileRows[30] = c15l; tileRows[31] = c15h;
    if (!foldTile(r0, slice, c)) { return; }
  }
  storeState(r0, slice);
}

// The software adapters' layout (src/gpu/lens.ts picks it): lens_tiles with h and wte
// read from textures, four j at a time, for rows of a multiple of 4. llvmpipe turns
// every storage load in a loop into eight scalar loads, each behind an exec-mask test
// and a bounds check (about a hundred instructions), whatever the addresses; a texel
// fetch is one vectorised gather of four consecutive j of a row. The embedding is
// copied into wteChunk a chunk of ids at a time (a few MiB), each chunk a dispatch
// that goes on from the records the last one left, so every slice still takes its
// tiles in the order lens_tiles does; each logit sums its terms in j order, and the
// two agree to the bit. The 8 invocations of a workgroup have the same 16 rows of h
// (S is a multiple of 8); where subgroups allow, they fetch them once between them
// (kernels/rows-shared.wgsl), else each its own (kernels/rows-own.wgsl).
// The order of a trip's multiply-adds (each logit sums its terms in j order either
// way, so the bits are the same): true, row by row (a row's four j, then the next
// row), 1.07-1.13x less CPU on lavapipe for F32 weights; false, j by j across the 16
// rows, which SwiftShader ran as fast or up to 10 % faster. More j per trip (two or
// four quads) was slower on lavapipe in both orders (bench/RESULTS.md, issue 28, 7).
override ROW_ORDER: bool = false;
// hRows is h [R, d] as rgba32float: texel (q, r) = h[r, 4q .. 4q + 3] (src/gpu/rows-texture.ts).
@group(0) @binding(8) var hRows: texture_2d<f32>;
// Quads of wte rows (a texel is one WeightQuad's words) laid end to end, 64 texels a
// texture row, so any width copies in whole texture rows (src/gpu/lens.ts).
@group(0) @binding(9) var wteChunk: texture_2d<u32>;

fn wteQuad(f: u32) -> vec4<f32> {
  return decodeQuad(texelQuad(textureLoad(wteChunk, vec2<u32>(f % 64u, f / 64u), 0)));
}

// Rows of wteChunk for ids c .. c + 3 (past the block's end, its last id), or for watched ids w .. w + 3.
fn chunkRows(c: u32) -> vec4<u32> {
  return min(vec4<u32>(c) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.V - 1u)) - vec4<u32>(p.c0);
}
fn watchedRows(w: u32) -> vec4<u32> {
  return min(vec4<u32>(w) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.W - 1u));
}

// Workgroups of 8 (one SIMD group on lavapipe, two on SwiftShader): each CPU thread
// runs whole workgroups, and a few hundred invocations in 64s left one core with a
// workgroup more than the other. Lane l fetches rows r0 + l and r0 + 8 + l for the
// shared form.
@compute @workgroup_size(8)
fn lens_texture(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let flat = gid.y * nwg.x * 8u + gid.x;
  let slice = flat % p.S;
  // Past the last group (a 2D grid's rounding), an invocation computes the last
  // group's tiles and folds nothing, so every loop below runs alike in all 8 lanes.
  let inRange = flat / p.S < p.groups;
  let g = min(flat / p.S, p.groups - 1u);
  let watching = p.mode == 1u;
  let r0 = g * 16u;
  let last = p.R - 1u;
  let y0 = min(r0 + 0u, last);
  let y1 = min(r0 + 1u, last);
  let y2 = min(r0 + 2u, last);
  let y3 = min(r0 + 3u, last);
  let y4 = min(r0 + 4u, last);
  let y5 = min(r0 + 5u, last);
  let y6 = min(r0 + 6u, last);
  let y7 = min(r0 + 7u, last);
  let y8 = min(r0 + 8u, last);
  let y9 = min(r0 + 9u, last);
  let y10 = min(r0 + 10u, last);
  let y11 = min(r0 + 11u, last);
  let y12 = min(r0 + 12u, last);
  let y13 = min(r0 + 13u, last);
  let y14 = min(r0 + 14u, last);
  let y15 = min(r0 + 15u, last);
  // Rows this lane fetches for its subgroup (kernels/rows-*.wgsl).
  let yA = min(r0 + lane, last);
  let yB = min(r0 + 8u + lane, last);
  if (!watching && inRange) {
    if (p.c0 == 0u) {
      for (var i = 0u; i < 16u; i++) { initRecord(r0 + i, slice); }
    }
    loadState(r0, slice);
  }
  // Round n holds tile n * S + slice of every slice. A lane whose tile of the round is
  // outside the chunk computes the chunk's first tile and folds nothing: the lanes of a
  // subgroup share h's rows (rowQuad), so they must loop together.
  let step = p.S * 8u;
  for (var n = p.c0 / step; n * step < p.c1; n++) {
    let c = n * step + slice * 8u;
    let mine = inRange && c >= p.c0 && c < p.c1;
    let at = select(p.c0, c, mine);
    let ba = select(chunkRows(at), watchedRows(0u), watching) * p.texStride;
    let bb = select(chunkRows(at + 4u), watchedRows(4u), watching) * p.texStride;
    var c0l = vec4<f32>(0.0); var c0h = vec4<f32>(0.0);
    var c1l = vec4<f32>(0.0); var c1h = vec4<f32>(0.0);
    var c2l = vec4<f32>(0.0); var c2h = vec4<f32>(0.0);
    var c3l = vec4<f32>(0.0); var c3h = vec4<f32>(0.0);
    var c4l = vec4<f32>(0.0); var c4h = vec4<f32>(0.0);
    var c5l = vec4<f32>(0.0); var c5h = vec4<f32>(0.0);
    var c6l = vec4<f32>(0.0); var c6h = vec4<f32>(0.0);
    var c7l = vec4<f32>(0.0); var c7h = vec4<f32>(0.0);
    var c8l = vec4<f32>(0.0); var c8h = vec4<f32>(0.0);
    var c9l = vec4<f32>(0.0); var c9h = vec4<f32>(0.0);
    var c10l = vec4<f32>(0.0); var c10h = vec4<f32>(0.0);
    var c11l = vec4<f32>(0.0); var c11h = vec4<f32>(0.0);
    var c12l = vec4<f32>(0.0); var c12h = vec4<f32>(0.0);
    var c13l = vec4<f32>(0.0); var c13h = vec4<f32>(0.0);
    var c14l = vec4<f32>(0.0); var c14h = vec4<f32>(0.0);
    var c15l = vec4<f32>(0.0); var c15h = vec4<f32>(0.0);
    let quads = p.d / 4u;
    for (var q = 0u; q < quads; q++) {
      let rows = fetchRowQuads(hRows, q, yA, yB, true);
      let hq0 = rowQuad(hRows, rows, q, y0, 0u);
      let hq1 = rowQuad(hRows, rows, q, y1, 1u);
      let hq2 = rowQuad(hRows, rows, q, y2, 2u);
      let hq3 = rowQuad(hRows, rows, q, y3, 3u);
      let hq4 = rowQuad(hRows, rows, q, y4, 4u);
      let hq5 = rowQuad(hRows, rows, q, y5, 5u);
      let hq6 = rowQuad(hRows, rows, q, y6, 6u);
      let hq7 = rowQuad(hRows, rows, q, y7, 7u);
      let hq8 = rowQuad(hRows, rows, q, y8, 8u);
      let hq9 = rowQuad(hRows, rows, q, y9, 9u);
      let hq10 = rowQuad(hRows, rows, q, y10, 10u);
      let hq11 = rowQuad(hRows, rows, q, y11, 11u);
      let hq12 = rowQuad(hRows, rows, q, y12, 12u);
      let hq13 = rowQuad(hRows, rows, q, y13, 13u);
      let hq14 = rowQuad(hRows, rows, q, y14, 14u);
      let hq15 = rowQuad(hRows, rows, q, y15, 15u);
      let w0 = wteQuad(ba.x + q); let w1 = wteQuad(ba.y + q);
      let w2 = wteQuad(ba.z + q); let w3 = wteQuad(ba.w + q);
      let w4 = wteQuad(bb.x + q); let w5 = wteQuad(bb.y + q);
      let w6 = wteQuad(bb.z + q); let w7 = wteQuad(bb.w + q);
      let wlx = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
      let whx = vec4<f32>(w4.x, w5.x, w6.x, w7.x);
      let wly = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
      let why = vec4<f32>(w4.y, w5.y, w6.y, w7.y);
      let wlz = vec4<f32>(w0.z, w1.z, w2.z, w3.z);
      let whz = vec4<f32>(w4.z, w5.z, w6.z, w7.z);
      let wlw = vec4<f32>(w0.w, w1.w, w2.w, w3.w);
      let whw = vec4<f32>(w4.w, w5.w, w6.w, w7.w);
      if (ROW_ORDER) {
        c0l += hq0.x * wlx; c0h += hq0.x * whx; c0l += hq0.y * wly; c0h += hq0.y * why;
        c0l += hq0.z * wlz; c0h += hq0.z * whz; c0l += hq0.w * wlw; c0h += hq0.w * whw;
        c1l += hq1.x * wlx; c1h += hq1.x * whx; c1l += hq1.y * wly; c1h += hq1.y * why;
        c1l += hq1.z * wlz; c1h += hq1.z * whz; c1l += hq1.w * wlw; c1h += hq1.w * whw;
        c2l += hq2.x * wlx; c2h += hq2.x * whx; c2l += hq2.y * wly; c2h += hq2.y * why;
        c2l += hq2.z * wlz; c2h += hq2.z * whz; c2l += hq2.w * wlw; c2h += hq2.w * whw;
        c3l += hq3.x * wlx; c3h += hq3.x * whx; c3l += hq3.y * wly; c3h += hq3.y * why;
        c3l += hq3.z * wlz; c3h += hq3.z * whz; c3l += hq3.w * wlw; c3h += hq3.w * whw;
        c4l += hq4.x * wlx; c4h += hq4.x * whx; c4l += hq4.y * wly; c4h += hq4.y * why;
        c4l += hq4.z * wlz; c4h += hq4.z * whz; c4l += hq4.w * wlw; c4h += hq4.w * whw;
        c5l += hq5.x * wlx; c5h += hq5.x * whx; c5l += hq5.y * wly; c5h += hq5.y * why;
        c5l += hq5.z * wlz; c5h += hq5.z * whz; c5l += hq5.w * wlw; c5h += hq5.w * whw;
        c6l += hq6.x * wlx; c6h += hq6.x * whx; c6l += hq6.y * wly; c6h += hq6.y * why;
        c6l += hq6.z * wlz; c6h += hq6.z * whz; c6l += hq6.w * wlw; c6h += hq6.w * whw;
        c7l += hq7.x * wlx; c7h += hq7.x * whx; c7l += hq7.y * wly; c7h += hq7.y * why;
        c7l += hq7.z * wlz; c7h += hq7.z * whz; c7l += hq7.w * wlw; c7h += hq7.w * whw;
        c8l += hq8.x * wlx; c8h += hq8.x * whx; c8l += hq8.y * wly; c8h += hq8.y * why;
        c8l += hq8.z * wlz; c8h += hq8.z * whz; c8l += hq8.w * wlw; c8h += hq8.w * whw;
        c9l += hq9.x * wlx; c9h += hq9.x * whx; c9l += hq9.y * wly; c9h += hq9.y * why;
        c9l += hq9.z * wlz; c9h += hq9.z * whz; c9l += hq9.w * wlw; c9h += hq9.w * whw;
        c10l += hq10.x * wlx; c10h += hq10.x * whx; c10l += hq10.y * wly; c10h += hq10.y * why;
        c10l += hq10.z * wlz; c10h += hq10.z * whz; c10l += hq10.w * wlw; c10h += hq10.w * whw;
        c11l += hq11.x * wlx; c11h += hq11.x * whx; c11l += hq11.y * wly; c11h += hq11.y * why;
        c11l += hq11.z * wlz; c11h += hq11.z * whz; c11l += hq11.w * wlw; c11h += hq11.w * whw;
        c12l += hq12.x * wlx; c12h += hq12.x * whx; c12l += hq12.y * wly; c12h += hq12.y * why;
        c12l += hq12.z * wlz; c12h += hq12.z * whz; c12l += hq12.w * wlw; c12h += hq12.w * whw;
        c13l += hq13.x * wlx; c13h += hq13.x * whx; c13l += hq13.y * wly; c13h += hq13.y * why;
        c13l += hq13.z * wlz; c13h += hq13.z * whz; c13l += hq13.w * wlw; c13h += hq13.w * whw;
        c14l += hq14.x * wlx; c14h += hq14.x * whx; c14l += hq14.y * wly; c14h += hq14.y * why;
        c14l += hq14.z * wlz; c14h += hq14.z * whz; c14l += hq14.w * wlw; c14h += hq14.w * whw;
        c15l += hq15.x * wlx; c15h += hq15.x * whx; c15l += hq15.y * wly; c15h += hq15.y * why;
        c15l += hq15.z * wlz; c15h += hq15.z * whz; c15l += hq15.w * wlw; c15h += hq15.w * whw;
      } else {
        c0l += hq0.x * wlx; c0h += hq0.x * whx;
        c1l += hq1.x * wlx; c1h += hq1.x * whx;
        c2l += hq2.x * wlx; c2h += hq2.x * whx;
        c3l += hq3.x * wlx; c3h += hq3.x * whx;
        c4l += hq4.x * wlx; c4h += hq4.x * whx;
        c5l += hq5.x * wlx; c5h += hq5.x * whx;
        c6l += hq6.x * wlx; c6h += hq6.x * whx;
        c7l += hq7.x * wlx; c7h += hq7.x * whx;
        c8l += hq8.x * wlx; c8h += hq8.x * whx;
        c9l += hq9.x * wlx; c9h += hq9.x * whx;
        c10l += hq10.x * wlx; c10h += hq10.x * whx;
        c11l += hq11.x * wlx; c11h += hq11.x * whx;
        c12l += hq12.x * wlx; c12h += hq12.x * whx;
        c13l += hq13.x * wlx; c13h += hq13.x * whx;
        c14l += hq14.x * wlx; c14h += hq14.x * whx;
        c15l += hq15.x * wlx; c15h += hq15.x * whx;
        c0l += hq0.y * wly; c0h += hq0.y * why;
        c1l += hq1.y * wly; c1h += hq1.y * why;
        c2l += hq2.y * wly; c2h += hq2.y * why;
        c3l += hq3.y * wly; c3h += hq3.y * why;
        c4l += hq4.y * wly; c4h += hq4.y * why;
        c5l += hq5.y * wly; c5h += hq5.y * why;
        c6l += hq6.y * wly; c6h += hq6.y * why;
        c7l += hq7.y * wly; c7h += hq7.y * why;
        c8l += hq8.y * wly; c8h += hq8.y * why;
        c9l += hq9.y * wly; c9h += hq9.y * why;
        c10l += hq10.y * wly; c10h += hq10.y * why;
        c11l += hq11.y * wly; c11h += hq11.y * why;
        c12l += hq12.y * wly; c12h += hq12.y * why;
        c13l += hq13.y * wly; c13h += hq13.y * why;
        c14l += hq14.y * wly; c14h += hq14.y * why;
        c15l += hq15.y * wly; c15h += hq15.y * why;
        c0l += hq0.z * wlz; c0h += hq0.z * whz;
        c1l += hq1.z * wlz; c1h += hq1.z * whz;
        c2l += hq2.z * wlz; c2h += hq2.z * whz;
        c3l += hq3.z * wlz; c3h += hq3.z * whz;
        c4l += hq4.z * wlz; c4h += hq4.z * whz;
        c5l += hq5.z * wlz; c5h += hq5.z * whz;
        c6l += hq6.z * wlz; c6h += hq6.z * whz;
        c7l += hq7.z * wlz; c7h += hq7.z * whz;
        c8l += hq8.z * wlz; c8h += hq8.z * whz;
        c9l += hq9.z * wlz; c9h += hq9.z * whz;
        c10l += hq10.z * wlz; c10h += hq10.z * whz;
        c11l += hq11.z * wlz; c11h += hq11.z * whz;
        c12l += hq12.z * wlz; c12h += hq12.z * whz;
        c13l += hq13.z * wlz; c13h += hq13.z * whz;
        c14l += hq14.z * wlz; c14h += hq14.z * whz;
        c15l += hq15.z * wlz; c15h += hq15.z * whz;
        c0l += hq0.w * wlw; c0h += hq0.w * whw;
        c1l += hq1.w * wlw; c1h += hq1.w * whw;
        c2l += hq2.w * wlw; c2h += hq2.w * whw;
        c3l += hq3.w * wlw; c3h += hq3.w * whw;
        c4l += hq4.w * wlw; c4h += hq4.w * whw;
        c5l += hq5.w * wlw; c5h += hq5.w * whw;
        c6l += hq6.w * wlw; c6h += hq6.w * whw;
        c7l += hq7.w * wlw; c7h += hq7.w * whw;
        c8l += hq8.w * wlw; c8h += hq8.w * whw;
        c9l += hq9.w * wlw; c9h += hq9.w * whw;
        c10l += hq10.w * wlw; c10h += hq10.w * whw;
        c11l += hq11.w * wlw; c11h += hq11.w * whw;
        c12l += hq12.w * wlw; c12h += hq12.w * whw;
        c13l += hq13.w * wlw; c13h += hq13.w * whw;
        c14l += hq14.w * wlw; c14h += hq14.w * whw;
        c15l += hq15.w * wlw; c15h += hq15.w * whw;
      }
    }
    tileRows[0] = c0l; tileRows[1] = c0h;
    tileRows[2] = c1l; tileRows[3] = c1h;
    tileRows[4] = c2l; tileRows[5] = c2h;
    tileRows[6] = c3l; tileRows[7] = c3h;
    tileRows[8] = c4l; tileRows[9] = c4h;
    tileRows[10] = c5l; tileRows[11] = c5h;
    tileRows[12] = c6l; tileRows[13] = c6h;
    tileRows[14] = c7l; tileRows[15] = c7h;
    tileRows[16] = c8l; tileRows[17] = c8h;
    tileRows[18] = c9l; tileRows[19] = c9h;
    tileRows[20] = c10l; tileRows[21] = c10h;
    tileRows[22] = c11l; tileRows[23] = c11h;
    tileRows[24] = c12l; tileRows[25] = c12h;
    tileRows[26] = c13l; tileRows[27] = c13h;
    tileRows[28] = c14l; tileRows[29] = c14h;
    tileRows[30] = c15l; tileRows[31] = c15h;
    if (watching) {
      if (mine) { emitTile(r0); }
      return;
    }
    if (mine) { foldRows(r0, slice, at); }
  }
  if (inRange) { storeState(r0, slice); }
}

// ---- lens_merge: one invocation per row folds its nSlices records.
// Output per row, u32 words: [0] log-sum-exp, [1, 1+k) top scores, [1+k, 1+2k) top ids,
// [1+2k, 1+3k) bottom scores, [1+3k, 1+4k) bottom ids, then W ranks from the top and
// W from the bottom (0-based).

@group(0) @binding(1) var<storage, read> parts: array<u32>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;

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
