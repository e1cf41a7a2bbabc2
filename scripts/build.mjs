// One esbuild run for every target: the CLI, the tests and benches for Node, and
// the browser bundles (app + in-browser kernel tests). WGSL is inlined as text so the
// same `import src from '../kernels/x.wgsl'` works everywhere.
import * as esbuild from 'esbuild';
import { readdirSync, readFileSync, existsSync, statSync, rmSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const walk = (dir, pred) => existsSync(dir) ? readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? walk(p, pred) : pred(p) ? [p] : [];
}) : [];

// Start clean: a deleted test must not keep running from a stale bundle.
rmSync('dist', { recursive: true, force: true });

// WebAssembly text assembled by wabt into the bundle as bytes (the binary is build output).
const wabt = await (await import('wabt')).default();
const wat = {
  name: 'wat',
  setup(build) {
    build.onLoad({ filter: /\.wat$/ }, async (args) => ({ contents: wabt.parseWat(args.path, readFileSync(args.path, 'utf8')).toBinary({}).buffer, loader: 'binary' }));
  },
};
const common = { bundle: true, format: 'esm', sourcemap: 'linked', loader: { '.wgsl': 'text' }, plugins: [wat], logLevel: 'warning', target: 'es2022' };
const nodeEntries = [
  ...walk('test', (p) => p.endsWith('.test.ts')),
  ...walk('bench', (p) => p.endsWith('.ts') && !p.includes('browser')),
  ...walk('scripts', (p) => p.endsWith('.ts')),
];
const builds = [
  esbuild.build({ ...common, entryPoints: nodeEntries, outdir: 'dist', outbase: '.', platform: 'node', packages: 'external',
    entryNames: '[dir]/[name]' }),
];
if (existsSync('src/cli.ts')) builds.push(esbuild.build({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js',
  platform: 'node', packages: 'external', banner: { js: '#!/usr/bin/env node' } }));
// The library entry (package.json "exports") and its .d.ts files from tsc.
builds.push(esbuild.build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js', platform: 'node', packages: 'external' }));
// The browser entry ("backward-lens/browser"): Node's modules are only reached by
// dynamic imports on the Node path of gpu/device.ts, so they stay external.
builds.push(esbuild.build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js', platform: 'browser', packages: 'external', external: ['node:*'] }));
builds.push(new Promise((done, fail) => {
  const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
  tsc.on('close', (code) => (code === 0 ? done() : fail(new Error(`declarations: tsc exited with ${code}`))));
}));
const browserEntries = [...walk('test/browser', (p) => p.endsWith('entry.ts')), ...walk('bench', (p) => p.endsWith('browser.ts'))];
// outbase '.': without it esbuild strips the entries' common folder, so each bundle's
// path would depend on which other browser entries happen to exist.
if (browserEntries.length) builds.push(esbuild.build({ ...common, entryPoints: browserEntries, outdir: 'dist/browser', outbase: '.',
  platform: 'browser', external: ['webgpu', 'node:*'] }));
// The web app: a folder any static server can host, with every model folder under
// weights/ (config.json and weights: a folder still being written is left out)
// beside the page in models/<name>/ and listed in models/index.json, the page's
// list of embedded models (default first: the page loads the first at once).
// Copies are made here rather than committed, so they cannot go stale.
const MODEL_FILE = /^(config\.json|tokenizer(_config)?\.json|model\.safetensors(\.index\.json)?|model-\d+-of-\d+\.safetensors)$/;
if (existsSync('web/main.ts')) {
  builds.push(esbuild.build({ ...common, entryPoints: ['web/main.ts'], outfile: 'dist/web/main.js', platform: 'browser', external: ['webgpu', 'node:*'] }));
  mkdirSync('dist/web/models', { recursive: true });
  copyFileSync('web/index.html', 'dist/web/index.html');
  const weighed = (d) => ['model.safetensors', 'model.safetensors.index.json'].some((f) => existsSync(join('weights', d, f)));
  const models = readdirSync('weights').filter((d) => existsSync(join('weights', d, 'config.json')) && weighed(d))
    .sort((a, b) => Number(b === 'default') - Number(a === 'default') || a.localeCompare(b))
    .map((name) => {
      const files = readdirSync(join('weights', name)).filter((f) => MODEL_FILE.test(f)).sort();
      mkdirSync(join('dist/web/models', name), { recursive: true });
      for (const f of files) copyFileSync(join('weights', name, f), join('dist/web/models', name, f));
      return { name, files, bytes: files.reduce((n, f) => n + statSync(join('weights', name, f)).size, 0) };
    });
  writeFileSync('dist/web/models/index.json', `${JSON.stringify(models, null, 1)}\n`);
}
await Promise.all(builds);

