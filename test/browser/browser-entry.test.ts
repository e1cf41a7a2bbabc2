// The browser entry of the library (src/browser.ts, "backward-lens/browser") is the
// Node entry without its file-system loaders, and bundles for a browser with no
// static import of a Node module.
import * as esbuild from 'esbuild';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as browser from '../../src/browser.ts';
import * as node from '../../src/index.ts';

test('the browser entry is the Node entry without loadModel and saveModelDir', () => {
  const nodeOnly = Object.keys(node).filter((k) => !(k in browser));
  assert.equal(nodeOnly.sort(), ['loadModel', 'saveModelDir']);
  assert.ok('loadModelFrom' in browser && 'bytesSource' in browser, 'the browser loads a model from bytes');
});

test('bundled for a browser, it imports no Node module but lazily on the Node path', async () => {
  // The WebAssembly text's bytes (assembled by scripts/build.mjs) do not change what is imported.
  const out = await esbuild.build({
    entryPoints: ['src/browser.ts'], bundle: true, write: false, metafile: true, format: 'esm', platform: 'browser',
    packages: 'external', external: ['node:*'], loader: { '.wgsl': 'text', '.wat': 'empty' }, logLevel: 'silent',
  });
  const imports = Object.values(out.metafile.outputs).flatMap((o) => o.imports);
  const nodeStatic = imports.filter((i) => i.path.startsWith('node:') && i.kind !== 'dynamic-import');
  assert.equal(nodeStatic.map((i) => i.path), []);
});

test.run();
