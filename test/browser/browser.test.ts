// The matmul, attention and Llama-family kernel cases again, in headless Chromium on the browser's
// own WebGPU, so that what only breaks in a browser (WGSL that Chromium's Tint
// rejects, browser-side limits, the bundle itself) fails `npm test`.
// test/browser/entry.ts runs the cases in the page; this file serves it and reports.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { test } from 'uvu';
import type { KernelRun } from './entry.ts';
import { llamaKernelCases } from '../engine/kernels/llama.cases.ts';
import { attentionCases } from '../engine/kernels/layers.cases.ts';
import { matmulCases } from '../engine/kernels/matmul.cases.ts';
import { lensWasmCases } from '../lens/lens-wasm.cases.ts';

const CHROMIUM = '/usr/bin/chromium';
// Linux Chromium keeps WebGPU behind --enable-unsafe-webgpu; with that alone, on a
// machine without a GPU it picks SwiftShader's Vulkan by itself, and Playwright's
// --headless is the new headless mode, which has WebGPU. Every other candidate flag
// (Vulkan feature, --use-vulkan/--use-angle/--use-webgpu-adapter=swiftshader,
// --enable-unsafe-swiftshader, --ignore-gpu-blocklist) changed nothing there.
const FLAGS = ['--enable-unsafe-webgpu'];
// The run takes about 3 s on 2 cores; the slack is for a loaded machine.
const RESULTS_TIMEOUT_MS = 40_000;
// The bundle sits next to this file's own bundle: dist/test/browser.test.js.
const ROOT = fileURLToPath(new URL('../../browser/', import.meta.url));
// The empty icon keeps Chromium from asking for /favicon.ico, whose 404 would read as a page error.
const PAGE = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/test/browser/entry.js"></script>';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json' };

/** An error uvu prints as its message alone: a stack would point into this driver, not at the kernel. */
function plainError(message: string): Error {
  return Object.assign(new Error(message), { stack: message.split('\n')[0] });
}

let server: Server | undefined;
let browser: Browser | undefined;

async function serve(): Promise<number> {
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    // Only bundles and source maps; URL parsing has already resolved any '..' segments.
    const type = TYPES[extname(path)];
    const body = type ? await readFile(ROOT + path.slice(1)).catch(() => undefined) : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': type! }).end(body);
  });
  await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function runInChromium(): Promise<KernelRun> {
  const port = await serve();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${m.text()} (${m.location().url})`); });
  // navigator.gpu exists only in secure contexts: a page on 127.0.0.1 is one, Playwright's about:blank is not.
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded' });
  // On a timeout, the cases that did finish still report their own results.
  await page.waitForFunction(() => window.kernelRun?.done, undefined, { timeout: RESULTS_TIMEOUT_MS, polling: 200 }).catch(() => {});
  const run: KernelRun = (await page.evaluate(() => window.kernelRun)) ?? { results: [], done: false };
  if (!run.done && !run.results.length) {
    run.fatal = `no results from the page within ${RESULTS_TIMEOUT_MS / 1000} s${pageErrors.length ? `; page errors: ${pageErrors.join(' | ')}` : ''}`;
  }
  if (run.adapter) console.log(`  chromium WebGPU adapter: ${run.adapter}`);
  return run;
}

if (!existsSync(CHROMIUM)) {
  test('browser kernels: chromium', () => {
    throw plainError(`${CHROMIUM} not found: the browser kernel tests need it, apt-get install chromium`);
  });
} else {
  let outcome: Promise<KernelRun> | undefined;
  for (const { name } of [...matmulCases, ...attentionCases, ...llamaKernelCases, ...lensWasmCases]) {
    test(`browser: ${name}`, async () => {
      const run = await (outcome ??= runInChromium());
      if (run.fatal) throw plainError(run.fatal);
      const result = run.results.find((r) => r.name === name);
      if (!result) throw plainError(run.done ? 'the page never ran this case' : `no result within ${RESULTS_TIMEOUT_MS / 1000} s: this case or one before it hangs`);
      if (result.error) throw plainError(result.error);
    });
  }
  test.after(async () => {
    try {
      await browser?.close();
    } finally {
      server?.close();
    }
  });
}

test.run();
