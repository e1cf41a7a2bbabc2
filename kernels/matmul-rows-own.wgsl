// matmul's and matmul_texture's rows of A where subgroups are not used: each
// invocation reads all of its rows itself (the fetches share nothing).
// kernels/matmul-rows-shared.wgsl is the other form; src/gpu/sources.ts appends one.
struct ARows { lo: f32, hi: f32 }
fn aFetch(lo: u32, hi: u32) -> ARows { return ARows(0.0, 0.0); }
// Row i's value at A[at].
fn aValue(rows: ARows, at: u32, i: u32) -> f32 { return A[at]; }
struct AQuads { lo: vec4<f32>, hi: vec4<f32> }
fn aFetchQuads(q: u32, yLo: u32, yHi: u32) -> AQuads { return AQuads(vec4<f32>(0.0), vec4<f32>(0.0)); }
// Row i's quad q (row y of aRows).
fn aQuad(quads: AQuads, q: u32, y: u32, i: u32) -> vec4<f32> { return textureLoad(aRows, vec2<u32>(q, y), 0); }
