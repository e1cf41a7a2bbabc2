// A best-first list of k (score, id) pairs in private memory, kept sorted by insertion:
// "better" is the larger score, ties going to the lower id, so every reduction over the
// vocabulary orders ties the same way. Shared by vocab.wgsl (top-k) and lens.wgsl (the
// fused lens); src/gpu/sources.ts appends it to both (WGSL has no imports), after the
// file's own text so that compile errors keep the file's line numbers. Needs p.k <= MAX_K.

const MAX_K = 128u;
const NONE = 0xffffffffu;

fn better(v1: f32, i1: u32, v2: f32, i2: u32) -> bool {
  return v1 > v2 || (v1 == v2 && i1 < i2);
}

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
