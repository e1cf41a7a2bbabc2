// matmul's rows of A on a CPU adapter whose subgroups hold 8 lanes (lavapipe): the
// lanes of a subgroup compute 8 column groups of the same rows, so lane l reads rows l
// and l + 8 of each step and every lane takes row i from lane i % 8 by a shuffle (one
// vector permute on lavapipe) instead of 16 per-lane loads (bench/RESULTS.md, issue
// 28, 10), as kernels/rows-shared.wgsl does for matmul_texture. The same floats: each
// entry of C keeps its bits. Whole subgroups return early (working is a multiple of
// 8), which WGSL's uniformity analysis cannot see: src/gpu/sources.ts turns its
// subgroup check off for this form.
struct ARows { lo: f32, hi: f32 }
fn aFetch(lo: u32, hi: u32) -> ARows {
  var rows = ARows(A[lo], 0.0);
  if (ROWS == 16u) { rows.hi = A[hi]; }
  return rows;
}
// Row i's value (A[at] in the lane that read it).
fn aValue(rows: ARows, at: u32, i: u32) -> f32 { return subgroupShuffle(select(rows.lo, rows.hi, i >= 8u), i % 8u); }
