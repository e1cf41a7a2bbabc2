// Rows of a rows texture (src/gpu/rows-texture.ts) as lens_texture and matmul_texture
// read them where subgroups are not used: each invocation fetches every row itself
// (fetchRowQuads shares nothing). kernels/rows-shared.wgsl is the other form;
// src/gpu/sources.ts appends one or the other.
struct RowQuads { lo: vec4<f32>, hi: vec4<f32> }
fn fetchRowQuads(t: texture_2d<f32>, q: u32, yLo: u32, yHi: u32, both: bool) -> RowQuads { return RowQuads(vec4<f32>(0.0), vec4<f32>(0.0)); }
// Row i (row y of t) of the invocation's 16, its quad q.
fn rowQuad(t: texture_2d<f32>, quads: RowQuads, q: u32, y: u32, i: u32) -> vec4<f32> { return textureLoad(t, vec2<u32>(q, y), 0); }
