// WGSL files are imported as text (esbuild `loader: {'.wgsl': 'text'}`).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
// WebAssembly text is assembled at build time (scripts/build.mjs) and imported as its binary.
declare module '*.wat' {
  const binary: Uint8Array<ArrayBuffer>;
  export default binary;
}
