// Reductions over a vocabulary row of scores: top-k or bottom-k ids. Order: best first, where
// "best" is the largest sign * score (sign = +1 top, -1 bottom); ties go to the
// lower id, so results are deterministic.
//   topk_chunks: each invocation keeps a sorted k-list for one chunk of a row
//   topk_merge:  one invocation per row merges the chunks' lists

struct Params { rows: u32, V: u32, k: u32, chunk: u32, nChunks: u32, sign: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> candVal: array<f32>;
@group(0) @binding(3) var<storage, read_write> candId: array<u32>;

fn reset() {
  for (var t = 0u; t < p.k; t++) { bestVal[t] = -3.4e38; bestId[t] = NONE; }
}

// One invocation per (row, chunk of `chunk` ids).
struct Chunk { flat: u32, row: u32, start: u32, end: u32 }

fn chunk_of(gid: vec3<u32>, nwg: vec3<u32>) -> Chunk {
  let flat = gid.y * nwg.x * 64u + gid.x;
  let start = (flat % p.nChunks) * p.chunk;
  return Chunk(flat, flat / p.nChunks, start, min(start + p.chunk, p.V));
}

@compute @workgroup_size(64)
fn topk_chunks(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = chunk_of(gid, nwg);
  if (c.flat >= p.rows * p.nChunks) { return; }
  let r = c.row;
  let start = c.start;
  let end = c.end;
  reset();
  for (var c = start; c < end; c++) { offer(p.sign * scores[r * p.V + c], c); }
  for (var t = 0u; t < p.k; t++) {
    candVal[c.flat * p.k + t] = bestVal[t];
    candId[c.flat * p.k + t] = bestId[t];
  }
}

@group(0) @binding(1) var<storage, read> mergeVal: array<f32>;
@group(0) @binding(2) var<storage, read> mergeId: array<u32>;
@group(0) @binding(3) var<storage, read_write> outId: array<i32>;
@group(0) @binding(4) var<storage, read_write> outVal: array<f32>;

@compute @workgroup_size(64)
fn topk_merge(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  reset();
  let n = p.nChunks * p.k;
  for (var t = 0u; t < n; t++) {
    let id = mergeId[r * n + t];
    if (id != NONE) { offer(mergeVal[r * n + t], id); }
  }
  for (var t = 0u; t < p.k; t++) {
    outId[r * p.k + t] = i32(bestId[t]);
    outVal[r * p.k + t] = p.sign * bestVal[t];
  }
}
