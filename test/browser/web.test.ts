// The web app in headless Chromium, served on 127.0.0.1 like `npm run web` serves
// it: the quick-start pair on the default model gives every grid token, gradient
// rank and target rank of `analyze --json`; a shift edit gives the after-distribution
// of `edit --json`, and undo brings the before-distribution back exactly; a random
// Hugging Face-layout checkpoint loads through the file input and analyses a pair.
// No console errors, no requests outside the origin.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Report } from '../../src/report/json.ts';
import { serveWeb } from '../../scripts/serve-web.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';
import { assertSameSide, assertShows, idle, pageView, sideOf, STEP_MS, type EditSide } from './page-view.ts';

const CHROMIUM = '/usr/bin/chromium';
const PROMPT = 'Michel Denisot spoke the language';
const TARGET = ' Russian';
const ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cli ${args[0]} failed: ${r.stderr}`);
}

if (!existsSync(CHROMIUM)) {
  test('web app in chromium', () => {
    throw new Error(`${CHROMIUM} not found: the web app test needs it, apt-get install chromium`);
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'bl-web-'));
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin = '';
  const problems: string[] = [];
  const outside: string[] = [];
  let shared: { url: string; cells: (string | null)[] } | undefined;

  test.before(async () => {
    cli(['analyze', '--prompt', PROMPT, '--target', TARGET, '--json', join(dir, 'analyze.json')]);
    // The CLI's own defaults for the embedded model: the page's edit fields start at them.
    cli(['edit', '--prompt', PROMPT, '--target', TARGET, '--method', 'shift', '--tokens', '0', '--json', join(dir, 'edit.json')]);
    const served = await serveWeb(ROOT);
    server = served.server;
    origin = served.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) outside.push(r.url()); });
    await page.goto(origin);
    await page.waitForFunction(() => window.blApp?.model === 'default' && !window.blApp.busy, undefined, { timeout: STEP_MS, polling: 100 });
  });
  test.after(async () => {
    await browser?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the quick-start pair: every grid token, gradient rank and target rank equals analyze --json', async () => {
    const ref = (JSON.parse(readFileSync(join(dir, 'analyze.json'), 'utf8')) as Report).results[0]!;
    await page.fill('#prompt', PROMPT);
    await page.fill('#target', TARGET);
    await page.press('#target', 'Enter');
    await idle(page, 'runs', 1);
    const run = await page.evaluate(() => window.blApp.lastRun);
    console.log(`  web: run to grid ${run!.ms.toFixed(0)} ms on ${await page.evaluate(() => window.blApp.adapter)}`);
    const view = await pageView(page);
    assertShows(view, ref);
    assert.match(page.url(), /#prompt=Michel\+Denisot/);
    shared = { url: page.url(), cells: view.cells.map((c) => c.text) };
  });

  test('the URL is a shareable link: a new page opens on the same analysis', async () => {
    const other = await browser!.newPage();
    try {
      other.on('pageerror', (e) => problems.push(`page error (shared link): ${e.message}`));
      await other.goto(shared!.url);
      await idle(other, 'runs', 1);
      assert.equal((await pageView(other)).cells.map((c) => c.text), shared!.cells);
    } finally {
      await other.close();
    }
  });

  test('hovering a grid cell shows the report tooltip', async () => {
    await page.locator('#analysis .grid td').first().hover();
    assert.match((await page.locator('#bl-tip').textContent())!, /mlp\.c_proj δ_i/);
    await page.mouse.move(0, 0);
  });

  test('a shift edit at the fields\' defaults gives edit --json\'s after-distribution; undo gives the before back exactly', async () => {
    const ref = JSON.parse(readFileSync(join(dir, 'edit.json'), 'utf8')) as { pairs: { before: EditSide; after: EditSide }[] };
    assert.equal(await page.evaluate(() => ['method', 'edit-layer', 'lr', 'steps'].map((id) => (document.getElementById(id) as HTMLInputElement).value)), ['shift', '2', '0.5', '20'], 'the CLI\'s defaults for the embedded model');
    await page.click('#apply');
    await idle(page, 'edits', 1);
    const before = await sideOf(page, 'before');
    const after = await sideOf(page, 'after');
    assertSameSide(before, ref.pairs[0]!.before, 'before');
    assertSameSide(after, ref.pairs[0]!.after, 'after');
    assert.is(await page.locator('#edits li').count(), 1);
    await page.click('#undo');
    await idle(page, 'edits', 2);
    const restored = await sideOf(page, 'after');
    assert.equal(restored, before, 'undo: the before-distribution is back exactly');
    assert.is(await page.locator('#edits li').count(), 0);
  });

  test('errors are one line and the page keeps working', async () => {
    await page.fill('#prompt', '');
    await page.press('#prompt', 'Enter');
    await page.waitForFunction(() => !window.blApp.busy && window.blApp.errors >= 1, undefined, { timeout: STEP_MS });
    assert.match((await page.locator('#message').textContent())!, /prompt is empty/);
    await page.fill('#prompt', 'x'.repeat(400));
    await page.press('#prompt', 'Enter');
    await page.waitForFunction(() => !window.blApp.busy && window.blApp.errors >= 2, undefined, { timeout: STEP_MS });
    assert.match((await page.locator('#message').textContent())!, /context is 64/);
    // The default vocabulary holds all 256 byte tokens, so every target encodes; an empty one does not.
    await page.fill('#prompt', PROMPT);
    await page.fill('#target', '');
    await page.press('#target', 'Enter');
    await page.waitForFunction(() => !window.blApp.busy && window.blApp.errors >= 3, undefined, { timeout: STEP_MS });
    assert.match((await page.locator('#message').textContent())!, /target is empty: type a target/);
    await page.setInputFiles('#files', { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a checkpoint at all') });
    await page.waitForFunction(() => !window.blApp.busy && window.blApp.errors >= 4, undefined, { timeout: STEP_MS });
    assert.match((await page.locator('#message').textContent())!, /safetensors|header/i);
    assert.is(await page.evaluate(() => window.blApp.model), 'default', 'the loaded model stays');
    // Only the expected failures: the test's own inputs, not page or console errors.
    problems.length = 0;
  });

  test('a random Hugging Face checkpoint loads through the file input and analyses a pair', async () => {
    const cfg = { nLayer: 2, nHead: 2, nEmbd: 16, nPositions: 32, vocabSize: 50257, nInner: 64, eps: 1e-5 };
    const ckpt = await writeRandomCheckpoint(cfg, 7);
    try {
      await page.setInputFiles('#files', [join(ckpt.dir, 'config.json'), join(ckpt.dir, 'model.safetensors')]);
      await page.waitForFunction(() => window.blApp.model === 'model.safetensors' && !window.blApp.busy, undefined, { timeout: STEP_MS, polling: 100 });
      assert.match((await page.locator('#model-info').textContent())!, /2 layers, d = 16, 2 heads, vocabulary 50257/);
      await page.fill('#prompt', 'The capital of France is');
      await page.fill('#target', ' Paris');
      const runs = await page.evaluate(() => window.blApp.runs);
      await page.click('#run');
      await idle(page, 'runs', runs + 1);
      assert.is(await page.locator('#analysis .grid tr').count(), 2 * 3, 'FF2 and FF1: a header and 2 layers each');
      assert.is(await page.locator('#message').textContent(), '');
    } finally {
      rmSync(ckpt.dir, { recursive: true, force: true });
    }
  });

  test('the bundle holds no Node-only module', () => {
    const bundle = readFileSync(join(ROOT, 'main.js'), 'utf8');
    // Only device.ts's guarded dynamic imports name Node modules; nothing imports them statically.
    assert.not.match(bundle, /^import .* from ["'](node:|webgpu)/m);
    for (const nodeOnly of ['src/model/load-node.ts', 'src/model/save-node.ts', 'src/model/node-file.ts', 'src/index.ts', 'src/cli/']) {
      assert.not.ok(bundle.includes(`// ${nodeOnly}`), `${nodeOnly} is in the browser bundle`);
    }
  });

  test('no page or console errors, no requests outside the origin', () => {
    assert.equal(problems, []);
    assert.equal(outside, []);
  });
}

test.run();
