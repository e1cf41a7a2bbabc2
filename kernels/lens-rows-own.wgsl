// lens_texture's rows of h where subgroups are not used: each invocation fetches all
// 16 of its rows itself (hFetch shares nothing). kernels/lens-rows-shared.wgsl is the
// other form; src/gpu/sources.ts appends one or the other to lens.wgsl.
struct HRows { a: vec4<f32>, b: vec4<f32> }
fn hFetch(q: u32, yA: u32, yB: u32) -> HRows { return HRows(vec4<f32>(0.0), vec4<f32>(0.0)); }
// Row i (at y) of the invocation's 16, its quad q.
fn hRow(rows: HRows, q: u32, y: u32, i: u32) -> vec4<f32> { return textureLoad(hRows, vec2<u32>(q, y), 0); }
