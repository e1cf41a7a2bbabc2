// WGSL files are imported as text (esbuild `loader: {'.wgsl': 'text'}`).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
