// Weight reads, F16 variant: two IEEE halves per word, element i in half i & 1.
// unpack2x16float is core WGSL, so no shader-f16 feature is needed.
alias WeightWord = u32;
fn weightWord(i: u32) -> u32 { return i >> 1u; }
fn decodeWeight(w: u32, i: u32) -> f32 { return unpack2x16float(w)[i & 1u]; }
alias WeightQuad = vec2<u32>;
fn decodeQuad(w: vec2<u32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }
// The same quad's words fetched from a texture (src/gpu/quads-texture.ts).
fn texelQuad(t: vec4<u32>) -> WeightQuad { return t.xy; }
