// matmul's rows of A where subgroups are not used: each invocation reads all of its
// rows itself (aFetch shares nothing). kernels/matmul-rows-shared.wgsl is the other
// form; src/gpu/sources.ts appends one or the other (with kernels/rows-*.wgsl, which
// serve matmul_texture).
struct ARows { lo: f32, hi: f32 }
fn aFetch(lo: u32, hi: u32) -> ARows { return ARows(0.0, 0.0); }
// Row i's value at A[at].
fn aValue(rows: ARows, at: u32, i: u32) -> f32 { return A[at]; }
