// lens_texture's rows of h on a device whose subgroups hold a whole workgroup of 8
// (lavapipe: 8 lanes of one SIMD vector). The 8 invocations of a workgroup share their
// 16 rows (src/gpu/lens.ts makes S a multiple of 8), so lane l fetches rows l and
// l + 8 and every lane takes row i from lane i % 8 by a shuffle, one vector permute
// on lavapipe, instead of 16 texel fetches per lane, each a gather: 1.37x less CPU
// for the kernel there (bench/RESULTS.md, issue 28, 10). The shuffled values are the
// same floats, so the logits keep their bits.
struct HRows { a: vec4<f32>, b: vec4<f32> }
fn hFetch(q: u32, yA: u32, yB: u32) -> HRows {
  return HRows(textureLoad(hRows, vec2<u32>(q, yA), 0), textureLoad(hRows, vec2<u32>(q, yB), 0));
}
// Row i (at y) of the invocation's 16, its quad q.
fn hRow(rows: HRows, q: u32, y: u32, i: u32) -> vec4<f32> { return subgroupShuffle(select(rows.a, rows.b, i >= 8u), i % 8u); }
