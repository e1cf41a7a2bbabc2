// matmul's and matmul_texture's rows of A on a CPU adapter whose subgroups hold 8
// lanes (lavapipe): the lanes of a subgroup compute 8 column groups of the same rows,
// so lane l reads rows l and l + 8 of each step and every lane takes row i from lane
// i % 8 by a shuffle (one vector permute on lavapipe) instead of 16 per-lane loads
// (bench/RESULTS.md, issue 28, 10). The same floats: each entry of C keeps its bits.
// Whole subgroups return early (working is a multiple of 8), which WGSL's uniformity
// analysis cannot see: src/gpu/sources.ts turns its subgroup check off for this form.
struct ARows { lo: f32, hi: f32 }
fn aFetch(lo: u32, hi: u32) -> ARows {
  var rows = ARows(A[lo], 0.0);
  if (ROWS == 16u) { rows.hi = A[hi]; }
  return rows;
}
// Row i's value (A[at] in the lane that read it).
fn aValue(rows: ARows, at: u32, i: u32) -> f32 { return subgroupShuffle(select(rows.lo, rows.hi, i >= 8u), i % 8u); }
struct AQuads { lo: vec4<f32>, hi: vec4<f32> }
fn aFetchQuads(q: u32, yLo: u32, yHi: u32) -> AQuads {
  var quads = AQuads(textureLoad(aRows, vec2<u32>(q, yLo), 0), vec4<f32>(0.0));
  if (ROWS == 16u) { quads.hi = textureLoad(aRows, vec2<u32>(q, yHi), 0); }
  return quads;
}
// Row i's quad q (row y of aRows in the lane that fetched it).
fn aQuad(quads: AQuads, q: u32, y: u32, i: u32) -> vec4<f32> { return subgroupShuffle(select(quads.lo, quads.hi, i >= 8u), i % 8u); }
