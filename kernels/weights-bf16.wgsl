// Weight reads, BF16 variant: two bfloat16 per word, element i in half i & 1. A
// bfloat16 is the top half of an f32, so decoding is a shift or a mask.
alias WeightWord = u32;
fn weightWord(i: u32) -> u32 { return i >> 1u; }
fn decodeWeight(w: u32, i: u32) -> f32 { return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u)); }
alias WeightQuad = vec2<u32>;
fn decodeQuad(w: vec2<u32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u));
}
// The same quad's words fetched from a texture (src/gpu/quads-texture.ts).
fn texelQuad(t: vec4<u32>) -> WeightQuad { return t.xy; }
