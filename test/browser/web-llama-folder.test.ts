// The web app on a Llama-family checkpoint as the CLI sees it: a tiny random one
// written here in three BF16 shards with model.safetensors.index.json (untied head,
// grouped-query attention, head_dim ≠ d / heads) and a hand-made tokenizer.json.
// It loads as an embedded model (a copy of dist/web with it added to
// models/index.json, as the build lists weights/*/), through the folder input and
// dropped as a folder.
// Every grid token, gradient rank and target rank equals `analyze --json`'s; the
// JSON and HTML downloads hold analyze's; a shift edit gives `edit --json`'s two
// distributions and undo the first back exactly; a folder missing tokenizer.json
// or a shard is one line, and the loaded model stays. No page or console errors.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Report } from '../../src/report/json.ts';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';
import { assertSameSide, assertShows, openApp, pageView, sideOf, STEP_MS, type EditSide } from './page-view.ts';

const CHROMIUM = '/usr/bin/chromium';
const CFG: LlamaConfigRef = {
  nLayer: 3, nHead: 6, nKvHead: 2, headDim: 8, nEmbd: 72, nInner: 200, vocabSize: 503, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const PROMPT = 'The Eiffel Tower is in';
const TARGET = ' Rome';
const EDIT = { layer: '1', lr: '0.5', steps: '3' };
const EMBEDDED = 'tiny-llama';
const BUILT = fileURLToPath(new URL('../../web/', import.meta.url));

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cli ${args[0]} failed: ${r.stderr}`);
}

/**
 * Two analyses' JSON agree: every string and whole number exactly (tokens, ids,
 * ranks), other numbers within 1e-4 relative + 1e-6 absolute (the page runs on
 * SwiftShader, the CLI on lavapipe: f32 sums in another order).
 */
function assertNear(got: unknown, want: unknown, path: string): void {
  if (typeof want === 'number' && typeof got === 'number' && !(Number.isInteger(want) && Number.isInteger(got))) {
    assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want) + 1e-6, `${path}: ${got} vs ${want}`);
  } else if (typeof want === 'object' && want !== null && typeof got === 'object' && got !== null) {
    assert.equal(Object.keys(got).sort(), Object.keys(want).sort(), `${path}: keys`);
    for (const key of Object.keys(want)) assertNear((got as Record<string, unknown>)[key], (want as Record<string, unknown>)[key], `${path}.${key}`);
  } else {
    assert.equal(got, want, path);
  }
}

async function downloaded(page: Page, button: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return readFileSync((await file.path())!, 'utf8');
}

/** Waits until the load, run or edit that `act` starts has ended, in success or a message; returns the message line. */
async function step(page: Page, act: () => Promise<void>): Promise<string> {
  const before = await page.evaluate(() => window.blApp.loads + window.blApp.runs + window.blApp.edits + window.blApp.errors);
  await act();
  await page.waitForFunction((n) => !window.blApp.busy && window.blApp.loads + window.blApp.runs + window.blApp.edits + window.blApp.errors > n, before, { timeout: STEP_MS, polling: 100 });
  return (await page.locator('#message').textContent())!;
}

if (!existsSync(CHROMIUM)) {
  test('web app on a Llama checkpoint in chromium', () => {
    throw new Error(`${CHROMIUM} not found: the web app test needs it, apt-get install chromium`);
  });
} else {
  const work = mkdtempSync(join(tmpdir(), 'bl-web-llama-'));
  const root = join(work, 'web');
  let model = '';
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  let analysis: Report;
  let edited: { pairs: { before: EditSide; after: EditSide }[] };

  test.before(async () => {
    model = (await writeLlamaCheckpoint(CFG, 5, { shards: 3, dtype: 'BF16' })).dir;
    cli(['analyze', '--model', model, '--prompt', PROMPT, '--target', TARGET, '--json', join(work, 'analyze.json'), '--html', join(work, 'analyze.html')]);
    cli(['edit', '--model', model, '--prompt', PROMPT, '--target', TARGET, '--method', 'shift', '--layers', EDIT.layer, '--lr', EDIT.lr, '--steps', EDIT.steps, '--tokens', '0', '--json', join(work, 'edit.json')]);
    analysis = JSON.parse(readFileSync(join(work, 'analyze.json'), 'utf8')) as Report;
    edited = JSON.parse(readFileSync(join(work, 'edit.json'), 'utf8'));
    // The built page with the checkpoint as a second embedded model, listed as the build lists weights/*/.
    cpSync(BUILT, root, { recursive: true });
    mkdirSync(join(root, 'models', EMBEDDED));
    const files = readdirSync(model).sort();
    for (const f of files) copyFileSync(join(model, f), join(root, 'models', EMBEDDED, f));
    const list = JSON.parse(readFileSync(join(root, 'models', 'index.json'), 'utf8')) as unknown[];
    const bytes = files.reduce((n, f) => n + statSync(join(model, f)).size, 0);
    writeFileSync(join(root, 'models', 'index.json'), JSON.stringify([...list, { name: EMBEDDED, files, bytes }]));
    ({ server, browser, page } = await openApp(CHROMIUM, root, problems, { acceptDownloads: true }));
  });
  test.after(async () => {
    await browser?.close();
    server?.close();
    for (const dir of [work, model]) rmSync(dir, { recursive: true, force: true });
  });

  test('the picker lists the embedded models with their families; the sharded Llama one loads', async () => {
    // Whatever else weights/ holds sits between the two.
    const options = await page.locator('#embedded option').allTextContents();
    assert.is(options.length, readdirSync(join(root, 'models')).filter((d) => d !== 'index.json').length);
    assert.equal([options[0], options.at(-1)], ['default (GPT-2, 4 layers)', `${EMBEDDED} (Llama, 3 layers)`]);
    await page.selectOption('#embedded', EMBEDDED);
    assert.is(await step(page, () => page.click('#load-embedded')), '');
    assert.is(await page.evaluate(() => window.blApp.model), EMBEDDED);
    assert.match((await page.locator('#model-info').textContent())!, new RegExp(`^${EMBEDDED}: Llama, 3 layers, d = 72, 6 heads \\(2 key/value\\), vocabulary 503, context 64;`));
    assert.equal(await page.locator('#modules label').allTextContents(), [' self_attn.{q,k,v}_proj', ' self_attn.o_proj', ' mlp.{gate,up}_proj', ' mlp.down_proj']);
    assert.equal(await page.evaluate(() => ['edit-layer', 'lr'].map((id) => (document.getElementById(id) as HTMLInputElement).value)), ['', ''], 'no documented edit setting for this model');
  });

  test('on the embedded copy: every grid token, gradient rank and target rank equals analyze --json', async () => {
    await page.fill('#prompt', PROMPT);
    await page.fill('#target', TARGET);
    assert.is(await step(page, () => page.press('#target', 'Enter')), '');
    assertShows(await pageView(page), analysis.results[0]!);
  });

  test('picked as a folder of shards: named after it, progress 100 %, the same grid', async () => {
    assert.is(await step(page, () => page.setInputFiles('#folder', model)), '');
    assert.is(await page.evaluate(() => window.blApp.model), basename(model));
    assert.match((await page.locator('#load-status').textContent())!, /^done: [\d.]+ MB read, \d+ tensors$/);
    assert.is(await page.evaluate(() => (document.getElementById('load-progress') as HTMLProgressElement).value), 1);
    assert.is(await step(page, () => page.click('#run')), '');
    assertShows(await pageView(page), analysis.results[0]!);
    assert.match((await page.locator('#analysis').textContent())!, /<s>/, 'BOS in the grid');
  });

  test('a folder dropped on the page loads like the picked one (its entries read in batches)', async () => {
    const message = await step(page, () => page.evaluate(async ([name, files]) => {
      const picked = await Promise.all(files.map(async (f) => new File([await (await fetch(`models/${name}/${f}`)).blob()], f)));
      const entry = (f: File) => ({ isFile: true, isDirectory: false, name: f.name, file: (ok: (f: File) => void) => ok(f) });
      // Two batches, then the empty one that ends a directory listing.
      const batches = [picked.slice(0, 3), picked.slice(3), []].map((b) => b.map(entry));
      const folder = { isFile: false, isDirectory: true, name: 'dropped-llama', createReader: () => ({ readEntries: (ok: (e: unknown[]) => void) => ok(batches.shift() ?? []) }) };
      const drop = new Event('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(drop, 'dataTransfer', { value: { items: [{ webkitGetAsEntry: () => folder }], files: [] } });
      document.getElementById('drop')!.dispatchEvent(drop);
    }, [EMBEDDED, readdirSync(model).sort()] as const));
    assert.is(message, '');
    assert.is(await page.evaluate(() => window.blApp.model), 'dropped-llama');
    assert.is(await step(page, () => page.click('#run')), '');
    assertShows(await pageView(page), analysis.results[0]!);
  });

  test('the JSON download is analyze --json\'s; the HTML report shows analyze --html\'s grids and ranks', async () => {
    const json = JSON.parse(await downloaded(page, '#download-json')) as Report;
    assertNear(json.results, analysis.results, 'results');
    const { source: _page, ...pageSizes } = json.model;
    const { source: _cli, memory: _memory, ...cliSizes } = analysis.model;
    assert.equal(pageSizes, cliSizes);
    const html = await downloaded(page, '#download-html');
    const other = await browser!.newPage();
    try {
      await other.setContent(html);
      const fromPage = await pageView(other, 'body');
      await other.setContent(readFileSync(join(work, 'analyze.html'), 'utf8'));
      const fromCli = await pageView(other, 'body');
      assert.ok(fromPage.cells.length > 0);
      assert.equal(fromPage, fromCli);
    } finally {
      await other.close();
    }
  });

  test('a shift edit gives edit --json\'s before and after; undo gives the before back exactly', async () => {
    await page.selectOption('#method', 'shift');
    await page.fill('#edit-layer', EDIT.layer);
    await page.fill('#lr', EDIT.lr);
    await page.fill('#steps', EDIT.steps);
    assert.is(await step(page, () => page.click('#apply')), '');
    const before = await sideOf(page, 'before');
    assertSameSide(before, edited.pairs[0]!.before, 'before');
    assertSameSide(await sideOf(page, 'after'), edited.pairs[0]!.after, 'after');
    await step(page, () => page.click('#undo'));
    assert.equal(await sideOf(page, 'after'), before);
  });

  test('a folder without tokenizer.json, or without a shard: one line naming the file, and the loaded model stays', async () => {
    const loaded = await page.evaluate(() => window.blApp.model);
    const partial = join(work, 'partial');
    mkdirSync(partial);
    for (const f of readdirSync(model).filter((f) => !f.startsWith('tokenizer'))) copyFileSync(join(model, f), join(partial, f));
    assert.match(await step(page, () => page.setInputFiles('#folder', partial)), /^the checkpoint has no tokenizer\.json; put the tokenizer\.json \(and tokenizer_config\.json\) that came with the model beside its weights, or pick them with the weights on the page$/);
    const picked = readdirSync(model).filter((f) => f !== 'model-00002-of-00003.safetensors').map((f) => join(model, f));
    assert.match(await step(page, () => page.setInputFiles('#files', picked)), /^model-00002-of-00003\.safetensors is listed in model\.safetensors\.index\.json but not among the picked files: pick every shard with it \(or the model's folder\)$/);
    assert.is(await page.evaluate(() => window.blApp.model), loaded);
    assert.ok(await page.locator('#analysis td[data-v]').count() > 0, 'the analysis stays');
  });

  test('no page or console errors', () => {
    assert.equal(problems, []);
  });
}

test.run();
