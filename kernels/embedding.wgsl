// Row gather and its scatter-add backward. Token + position embedding is two
// gathers (wte by token id, then wpe by position, accumulated); selecting the
// rows that feed the LM head is one more.
//   gather:      out[r, :] = (accumulate ? out[r, :] : 0) + table[idx[r], :]
//   scatter_add: table[idx[r], :] += src[r, :]
// scatter_add runs one invocation per column and walks the rows in order, so
// repeated ids add up deterministically without float atomics.
// A table larger than one storage binding comes in row blocks: the bound buffer
// holds table rows lo .. hi - 1, and rows of idx outside that range are left alone
// (another dispatch, with another block bound, handles them). gather reads the
// table through readTable, so a 16-bit embedding stays packed (weights-*.wgsl).

struct Params { rows: u32, cols: u32, accumulate: u32, lo: u32, hi: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<WeightWord>;

fn readTable(i: u32) -> f32 { return decodeWeight(table[weightWord(i)], i); }
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 64u + gid.x;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let c = i % p.cols;
  let id = u32(idx[r]);
  if (id < p.lo || id >= p.hi) { return; }
  let v = readTable((id - p.lo) * p.cols + c);
  out[i] = select(v, out[i] + v, p.accumulate != 0u);
}

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(64)
fn scatter_add(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.cols) { return; }
  for (var r = 0u; r < p.rows; r++) {
    let id = u32(idx[r]);
    if (id < p.lo || id >= p.hi) { continue; }
    let at = (id - p.lo) * p.cols + c;
    dtable[at] = dtable[at] + src[r * p.cols + c];
  }
}
