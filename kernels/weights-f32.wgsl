// Weight reads, f32 variant: one weight per word. Kernels that read weights bind them
// as array<WeightWord> and decode element i with decodeWeight(w[weightWord(i)], i);
// sources.ts appends this file or a 16-bit one, so one kernel text serves all three.
alias WeightWord = f32;
fn weightWord(i: u32) -> u32 { return i; }
fn decodeWeight(w: f32, i: u32) -> f32 { return w; }
// Four consecutive weights from 4i (kernels that read whole quads: rows of a multiple of 4).
alias WeightQuad = vec4<f32>;
fn decodeQuad(w: vec4<f32>) -> vec4<f32> { return w; }
// The same quad's words fetched from a texture (src/gpu/quads-texture.ts).
fn texelQuad(t: vec4<u32>) -> WeightQuad { return bitcast<vec4<f32>>(t); }
