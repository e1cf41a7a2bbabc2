// `npm run bench:browser`: serves dist/browser on 127.0.0.1 (WebGPU needs a
// secure context, which localhost is) and runs bench/browser.ts in headless
// Chromium through playwright-core, never downloading a browser.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { BrowserReport } from './browser.ts';

const HELP = `usage: npm run bench:browser -- [options]
  --json FILE        where to write the results (default dist/bench/results-browser.json)
  --reps N           timed reps per case
  --only TEXT        only cases whose "kernel shape impl" contains TEXT
  --quick            prompt-sized cases only, 5 reps
  --spin             wait for the GPU at once instead of sleeping through most of each rep
  --chromium PATH    the browser (default $CHROMIUM or /usr/bin/chromium)
  --help             this text`;

// The one flag Chromium on Linux needs to expose WebGPU; on a machine without a
// GPU it then picks SwiftShader by itself.
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu'];

const { values: args } = parseArgs({
  options: {
    json: { type: 'string', default: 'dist/bench/results-browser.json' },
    reps: { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    spin: { type: 'boolean', default: false },
    chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
if (!existsSync(args.chromium)) {
  console.error(`no browser at ${args.chromium}: install chromium or pass --chromium PATH`);
  process.exit(2);
}

const root = resolve('dist/browser');
// esbuild names outputs relative to the entries' common folder: bench/browser.js
// beside other bundles, browser.js when it is the only one.
const bundle = ['bench/browser.js', 'browser.js'].find((p) => existsSync(join(root, p)));
if (!bundle) {
  console.error('dist/browser has no bench bundle: run `node scripts/build.mjs` first');
  process.exit(2);
}
const page = `<!doctype html><meta charset="utf-8"><title>backward-lens bench</title><link rel="icon" href="data:,"><pre></pre><script type="module" src="/${bundle}"></script>`;
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json' };

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    return;
  }
  const file = resolve(root, `.${decodeURIComponent(path)}`);
  if (!file.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  const body = await readFile(file).catch(() => null);
  if (body) res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
  else res.writeHead(404).end();
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const query = new URLSearchParams();
if (args.quick) query.set('quick', '1');
if (args.reps) query.set('reps', args.reps);
if (args.only) query.set('only', args.only);
if (args.spin) query.set('spin', '1');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/?${query}`;

const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: CHROMIUM_ARGS });
const browserName = `${args.chromium} ${browser.version()}`;
const load = [loadavg()];
let report: BrowserReport;
try {
  const tab = await browser.newPage();
  tab.on('console', (m) => console.log(m.text()));
  tab.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  // goto waits for the load event, by which time the module script has run.
  await tab.goto(url);
  report = await tab.evaluate(() => (window as unknown as { benchDone?: Promise<BrowserReport> }).benchDone
    ?? Promise.reject(new Error('the bench bundle did not run: see the page errors above')));
} finally {
  await browser.close();
  server.close();
}
load.push(loadavg());
console.log(`load average (1, 5, 15 min) before ${load[0]!.map((l) => l.toFixed(2)).join(' ')}, after ${load[1]!.map((l) => l.toFixed(2)).join(' ')}`);

const cpu = cpus();
mkdirSync(dirname(args.json), { recursive: true });
writeFileSync(args.json, JSON.stringify({
  ...report,
  browser: browserName,
  machine: `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
  command: process.argv.slice(2).join(' '),
  load_average: { before: load[0], after: load[1] },
}, null, 2));
console.log(`wrote ${args.json}`);
