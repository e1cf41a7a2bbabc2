// The public library: `import { ... } from 'backward-lens'` in Node (ESM). What the
// commands use, in the order of the data flow: load a model, run a gradient pass,
// analyse it, edit and restore, query, render. Everything not listed here is internal.
// The browser entry (browser.ts) is all of it but the file-system loaders.
export * from './browser.ts';
export { loadModel } from './model/load-default.ts';
export { saveModelDir } from './model/save-node.ts';
