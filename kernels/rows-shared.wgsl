// Rows of a rows texture (src/gpu/rows-texture.ts) as lens_texture and matmul_texture
// read them on a CPU adapter whose subgroups hold 8 lanes (lavapipe: one SIMD vector).
// The lanes of a subgroup work on the same 16 rows (src/gpu/lens.ts makes the lens's
// slice count a multiple of 8; the matmuls' lanes are column groups of one row tile),
// so lane l fetches rows l and l + 8 (`both`: the upper 8 too) and every lane takes
// row i from lane i % 8 by a shuffle, one vector permute on lavapipe, instead of a
// texel fetch per row, each a gather: 1.85x less CPU for the lens there
// (bench/RESULTS.md, issue 28, 10). The shuffled values are the same floats, so every
// result keeps its bits.
struct RowQuads { lo: vec4<f32>, hi: vec4<f32> }
fn fetchRowQuads(t: texture_2d<f32>, q: u32, yLo: u32, yHi: u32, both: bool) -> RowQuads {
  var quads = RowQuads(textureLoad(t, vec2<u32>(q, yLo), 0), vec4<f32>(0.0));
  if (both) { quads.hi = textureLoad(t, vec2<u32>(q, yHi), 0); }
  return quads;
}
// Row i (row y of t in the lane that fetched it) of the invocation's 16, its quad q.
fn rowQuad(t: texture_2d<f32>, quads: RowQuads, q: u32, y: u32, i: u32) -> vec4<f32> { return subgroupShuffle(select(quads.lo, quads.hi, i >= 8u), i % 8u); }
