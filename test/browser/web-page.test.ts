// The web app's states in headless Chromium (issue 21): what is on screen and in
// the downloads always belongs to the loaded model and its edits; the form's fields
// are checked like the CLI's options; warnings, blank cells, the tooltip at k = 100,
// keyboard use of the grids, a 390-px screen, model files the page cannot read, a
// changed link, and a browser without WebGPU.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Report } from '../../src/report/json.ts';
import { serveWeb } from '../../scripts/serve-web.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import { writeNeoxCheckpoint } from '../model/neox-checkpoint.ts';
import { NEOX_TOKENS } from '../model/neox-tokenizer.ts';
import { PIECE_TOKENS } from '../model/piece-tokenizer.ts';

const CHROMIUM = '/usr/bin/chromium';
const PROMPT = 'Michel Denisot spoke the language';
const STEP_MS = 120_000;
const ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

type Counter = 'loads' | 'runs' | 'edits' | 'errors';

/** Waits for a counter of window.blApp to pass `count` with no job in flight. */
async function after(page: Page, key: Counter, count: number): Promise<void> {
  await page.waitForFunction(([k, n]) => window.blApp[k as 'runs'] >= (n as number) && !window.blApp.busy, [key, count] as const, { timeout: STEP_MS, polling: 100 });
}

const counter = (page: Page, key: Counter) => page.evaluate((k) => window.blApp[k as 'runs'], key);

/** Does `act`, then waits until it moved the counter or failed; returns the message line. */
async function step(page: Page, key: Counter, act: () => Promise<void>): Promise<string> {
  const [n, errors] = [await counter(page, key), await counter(page, 'errors')];
  await act();
  await page.waitForFunction(([k, c, e]) => !window.blApp.busy && (window.blApp[k as 'runs'] > (c as number) || window.blApp.errors > (e as number)), [key, n, errors] as const, { timeout: STEP_MS, polling: 100 });
  return (await page.locator('#message').textContent())!;
}

async function run(page: Page, fields: Record<string, string>): Promise<string> {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  return step(page, 'runs', () => page.click('#run'));
}

async function downloaded(page: Page, button: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return readFileSync((await file.path())!, 'utf8');
}

const values = (page: Page, ids: string[]) => page.evaluate((list) => list.map((id) => (document.getElementById(id) as HTMLInputElement).value), ids);

if (!existsSync(CHROMIUM)) {
  test('web app states in chromium', () => {
    throw new Error(`${CHROMIUM} not found: the web app test needs it, apt-get install chromium`);
  });
} else {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let origin = '';
  const problems: string[] = [];

  test.before(async () => {
    const served = await serveWeb(ROOT);
    server = served.server;
    origin = served.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(origin);
    await page.waitForFunction(() => window.blApp?.model === 'default' && !window.blApp.busy, undefined, { timeout: STEP_MS, polling: 100 });
  });
  test.after(async () => {
    await browser?.close();
    server?.close();
  });

  test('edit fields start at the CLI\'s defaults and follow the method (item 6)', async () => {
    assert.equal(await values(page, ['method', 'edit-layer', 'lr', 'steps']), ['shift', '2', '0.5', '20']);
    await page.selectOption('#method', 'sgd');
    assert.equal(await values(page, ['lr', 'steps']), ['1', '1']);
    await page.selectOption('#method', 'shift');
    assert.equal(await values(page, ['lr', 'steps']), ['0.5', '20']);
  });

  test('fields: the layers grammar of the CLI; empty or fractional k, η, layer are errors (item 8)', async () => {
    assert.is(await run(page, { prompt: PROMPT, target: ' Russian', k: '5', layers: '0-2' }), '');
    assert.is(await page.locator('#analysis .grid').first().locator('tr').count(), 1 + 3, 'layers 0-2: three rows');
    assert.is(await run(page, { layers: '2,2' }), '');
    assert.is(await page.locator('#analysis .grid').first().locator('tr').count(), 1 + 1, 'a repeated layer is one row, as in the CLI');
    assert.match(await run(page, { layers: '1,,2' }), /^the layers field "1,,2": an empty item/);
    assert.match(await run(page, { layers: 'x' }), /^the layers field "x": "x" is not a layer or a range like 3-7/);
    assert.match(await run(page, { layers: '2-1' }), /runs backwards/);
    assert.match(await run(page, { layers: '9' }), /layer 9 does not exist: this model has layers 0-3/);
    assert.match(await run(page, { layers: '', k: '' }), /^the k field is empty/);
    assert.match(await run(page, { k: '1.5' }), /^the k field "1\.5" is not a whole number/);
    await page.fill('#k', '5');
    for (const [id, label] of [['edit-layer', 'layer'], ['lr', 'η'], ['steps', 'steps']] as const) {
      const old = await page.inputValue(`#${id}`);
      await page.fill(`#${id}`, '');
      assert.match(await step(page, 'errors', () => page.click('#apply')), new RegExp(`^the ${label} field is empty`));
      await page.fill(`#${id}`, old);
    }
    assert.is(await page.locator('#edits li').count(), 0);
  });

  test('edit errors are in the page\'s words (item 8)', async () => {
    await page.fill('#prompt', 'x'.repeat(400));
    const message = await step(page, 'errors', () => page.click('#apply'));
    assert.match(message, /^the prompt takes \d+ tokens but the model's context is 64/);
    await page.fill('#prompt', '');
    assert.match(await step(page, 'errors', () => page.click('#apply')), /^the prompt is empty: type a prompt$/);
    await page.fill('#lr', '-1');
    await page.fill('#prompt', PROMPT);
    assert.match(await step(page, 'errors', () => page.click('#apply')), /^η -1 must be a number > 0$/);
    await page.fill('#lr', '0.5');
  });

  test('warnings above the grid and in the HTML report; the run\'s k and lens; blank cells say what they are (items 4, 7, 8)', async () => {
    assert.is(await run(page, { prompt: PROMPT, target: ' Xylophone', k: '7', layers: '' }), '');
    await page.check('#normalized');
    assert.is(await run(page, {}), '');
    const warning = page.locator('#analysis .warnings li');
    assert.is(await warning.count(), 1);
    assert.match((await warning.textContent())!, /^warning: the target " Xylophone" has GPT-2 tokens this model's vocabulary lacks/);
    assert.ok(await page.evaluate(() => document.querySelector('#analysis .warnings')!.compareDocumentPosition(document.querySelector('#analysis .grid')!) & Node.DOCUMENT_POSITION_FOLLOWING), 'above the grid');
    assert.match((await page.locator('#analysis .meta').first().textContent())!, /k = 7; normalized logit lens LL\(v\/‖v‖\)/);
    const html = await downloaded(page, '#download-html');
    assert.match(html, /<li>warning: the target &quot; Xylophone&quot; has GPT-2 tokens/);
    await page.uncheck('#normalized');
    // The last layer's δ_i, i < n, is exactly zero: a blank cell with its own tooltip and a legend line.
    assert.match((await page.locator('#analysis .grid').first().locator('.note').textContent())!, /^blank: δ_i is exactly 0 \(the last layer, i < n\), so its lens says nothing$/);
    await page.locator('#analysis .grid').first().locator('tr').nth(1).locator('td').first().hover();
    const tip = (await page.locator('#bl-tip').textContent())!;
    assert.match(tip, /δ_i is exactly the zero vector \(the last layer, i < n\), so its lens says nothing/);
    assert.not.match(tip, /rank/);
    await page.mouse.move(0, 0);
  });

  test('the tooltip at k = 100: beside its cell, scrolls, token text escaped once (item 8)', async () => {
    assert.is(await run(page, { prompt: PROMPT, target: ' Russian', k: '100', layers: '' }), '');
    // An FF2 cell whose lists hold byte tokens (\xNN), where escaping twice would show.
    const index = await page.evaluate(() => {
      const r = JSON.parse(document.getElementById('bl-data')!.textContent!) as Report;
      return [...document.querySelectorAll<HTMLElement>('#analysis .grid td[data-v="delta"]')].findIndex((td) => {
        const v = r.results[0]!.layers[+td.dataset.l!]!.modules[+td.dataset.m!]!.delta[+td.dataset.i!]!;
        return v.norm > 0 && [...v.bottom!, ...v.top!].some((t) => t.text.includes('\\x'));
      });
    });
    assert.ok(index >= 0, 'a cell with byte tokens in its lists');
    const cell = page.locator('#analysis .grid td[data-v="delta"]').nth(index);
    await cell.hover();
    const tip = page.locator('#bl-tip');
    const [c, t] = [(await cell.boundingBox())!, (await tip.boundingBox())!];
    assert.ok(t.y >= c.y + c.height - 0.5 || t.y + t.height <= c.y + 0.5, `the tooltip ${JSON.stringify(t)} covers its cell ${JSON.stringify(c)}`);
    assert.ok(t.y >= 0 && t.y + t.height <= 900 + 0.5, 'inside the window');
    assert.ok(await tip.evaluate((e) => e.scrollHeight > e.clientHeight), 'k = 100 lists scroll');
    // The pointer can move onto the tooltip and scroll it.
    await page.mouse.move(t.x + t.width / 2, t.y + 2);
    await page.mouse.move(t.x + t.width / 2, t.y + t.height / 2, { steps: 5 });
    await page.mouse.wheel(0, 300);
    await page.waitForFunction(() => document.getElementById('bl-tip')!.scrollTop > 0, undefined, { timeout: 5000 });
    assert.ok(await tip.isVisible());
    const shown = await tip.evaluate((e) => [...e.querySelectorAll('td.tok')].map((td) => td.textContent!));
    const data = await page.evaluate(([l, i]) => {
      const r = JSON.parse(document.getElementById('bl-data')!.textContent!) as Report;
      const m = r.results[0]!.layers[l!]!.modules.find((x) => x.module === 'mlp.c_proj')!;
      return [...m.delta[i!]!.bottom!, ...m.delta[i!]!.top!].map((x) => x.text);
    }, [Number(await cell.getAttribute('data-l')), Number(await cell.getAttribute('data-i'))]);
    assert.equal(shown, data.map((x) => `"${x}"`));
    await page.mouse.move(0, 0);
    assert.not.ok(await tip.isVisible());
  });

  test('each grid is one Tab stop; the arrow keys move inside it (item 8)', async () => {
    assert.is(await run(page, { prompt: PROMPT, target: ' Russian', k: '5', layers: '' }), '');
    await page.focus('#download-html');
    await page.keyboard.press('Tab');
    const at = () => page.evaluate(() => {
      const td = document.activeElement as HTMLElement;
      return `${[...document.querySelectorAll('#analysis .grid')].findIndex((g) => g.contains(td))}:${td.closest('tr')!.rowIndex}:${td.dataset.i}`;
    });
    assert.is(await at(), '0:1:0');
    await page.keyboard.press('ArrowRight');
    assert.is(await at(), '0:1:1');
    await page.keyboard.press('ArrowDown');
    assert.is(await at(), '0:2:1');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    assert.is(await at(), '0:2:0', 'stops at the edge');
    await page.keyboard.press('Tab');
    assert.is(await at(), '1:1:0', 'Tab leaves the first grid for the second');
    await page.keyboard.press('Shift+Tab');
    assert.is(await at(), '0:2:0', 'back to the cell last focused');
    await page.keyboard.press('Escape');
  });

  test('edits: in the JSON and the report header, the old grid marked stale; a shift that changed nothing says so (item 5, 8)', async () => {
    assert.is(await run(page, { prompt: PROMPT, target: ' Russian', k: '5', layers: '' }), '');
    assert.not.ok(await page.locator('#stale').isVisible());
    assert.is(await step(page, 'edits', () => page.click('#apply')), '');
    assert.ok(await page.locator('#stale').isVisible(), 'the grid predates the edit');
    assert.is(await run(page, {}), '');
    assert.not.ok(await page.locator('#stale').isVisible());
    const json = JSON.parse(await downloaded(page, '#download-json')) as Report;
    assert.equal(json.model.edits, [{ prompt: PROMPT, target: ' Russian', method: 'shift', layers: [2], lr: 0.5, steps: 20 }]);
    const expected = `edited in memory before this analysis (1): shift at layer 2, η 0.5, up to 20 passes: "${PROMPT}" → " Russian"`;
    assert.is(await page.locator('#analysis .meta.edits').textContent(), expected);
    assert.ok((await downloaded(page, '#download-html')).includes(expected.replace(/"/g, '&quot;')));
    // Russian is now the top-1 answer: another shift has nothing to do.
    assert.is(await step(page, 'edits', () => page.click('#apply')), 'the shift changed nothing: the target already is the top-1 next token');
    assert.is(await page.locator('#edits li').count(), 1);
    assert.is(await page.locator('#edits li').textContent(), expected.slice(expected.indexOf('shift')));
    await step(page, 'edits', () => page.click('#undo'));
    assert.ok(await page.locator('#stale').isVisible());
  });

  test('a changed link re-reads its settings and runs (item 8)', async () => {
    const runs = await counter(page, 'runs');
    await page.evaluate(() => { location.hash = '#prompt=The+capital+of+France+is&target=+Paris&k=3&layers=1-2'; });
    await after(page, 'runs', runs + 1);
    assert.equal(await values(page, ['prompt', 'target', 'k', 'layers']), ['The capital of France is', ' Paris', '3', '1-2']);
    assert.match((await page.locator('#analysis h2').textContent())!, /"The capital of France is" → " Paris"/);
  });

  test('model files the page cannot read say what they are (item 8)', async () => {
    const bin = { name: 'pytorch_model.bin', mimeType: 'application/octet-stream', buffer: Buffer.from('PK pickle') };
    const config = { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from('{}') };
    assert.match(await step(page, 'errors', () => page.setInputFiles('#files', [config, bin])), /^pytorch_model\.bin is a PyTorch pickle \(\.bin\), which the page does not read/);
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((name) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from('x') }));
    assert.match(await step(page, 'errors', () => page.setInputFiles('#files', [config, ...shards])), /^model-00001-of-00002\.safetensors is one of 2 shards: pick model\.safetensors\.index\.json with them/);
    assert.is(await page.evaluate(() => window.blApp.model), 'default');
  });

  test('another model: the old analysis and edits are gone, its edit fields empty, named after its folder, progress 100 %, same files reload (items 3, 8)', async () => {
    assert.is(await run(page, { prompt: PROMPT, target: ' Russian', k: '5', layers: '' }), '');
    const cfg = { nLayer: 2, nHead: 2, nEmbd: 16, nPositions: 32, vocabSize: 50257, nInner: 64, eps: 1e-5 };
    const ckpt = await writeRandomCheckpoint(cfg, 3, { maskBuffers: true });
    const files = [join(ckpt.dir, 'config.json'), join(ckpt.dir, 'model.safetensors')];
    try {
      await page.setInputFiles('#files', files);
      await page.waitForFunction(() => window.blApp.model === 'model.safetensors' && !window.blApp.busy, undefined, { timeout: STEP_MS, polling: 100 });
      assert.is(await page.locator('#analysis').innerHTML(), '');
      assert.is(await page.locator('#stale').isVisible(), false);
      assert.equal(await page.evaluate(() => ['download-json', 'download-html'].map((id) => (document.getElementById(id) as HTMLButtonElement).disabled)), [true, true]);
      assert.equal(JSON.parse((await page.locator('#bl-data').textContent())!), { results: [] });
      assert.is(await page.locator('#edits li').count(), 0);
      assert.equal(await values(page, ['edit-layer', 'lr', 'steps']), ['', '', '1'], 'no documented setting for this model');
      assert.is(await page.evaluate(() => (document.getElementById('load-progress') as HTMLProgressElement).value), 1, 'the skipped attn.bias buffers do not hold the bar below 100 %');
      const loads = await counter(page, 'loads');
      await step(page, 'loads', () => page.setInputFiles('#files', files));
      assert.is(await counter(page, 'loads'), loads + 1, 'the same files again: loaded again');
      // A browser fires no change event for the files an input already holds; emptied, it always does.
      assert.is(await page.inputValue('#files'), '');
      await step(page, 'loads', () => page.setInputFiles('#folder', ckpt.dir));
      assert.is(await page.evaluate(() => window.blApp.model), basename(ckpt.dir));
      assert.match((await page.locator('#model-info').textContent())!, new RegExp(`^${basename(ckpt.dir)}: GPT-2, 2 layers`));
    } finally {
      rmSync(ckpt.dir, { recursive: true, force: true });
    }
  });

  test('a 390-px screen: nothing wider than the window', async () => {
    const narrow = await browser!.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await narrow.goto(`${origin}#prompt=${encodeURIComponent(PROMPT)}&target=+Russian`);
      await after(narrow, 'runs', 1);
      await narrow.screenshot({ path: join(process.env.BL_SCREENSHOTS ?? join(ROOT, '..'), 'web-390.png'), fullPage: true });
      // Wide grids and tables scroll inside their own box; nothing else may pass the window's edge.
      const wide = await narrow.evaluate(() => {
        const scrolls = (e: Element) => /auto|scroll/.test(getComputedStyle(e).overflowX);
        const inScroller = (e: Element) => { for (let p = e.parentElement; p; p = p.parentElement) if (scrolls(p)) return true; return false; };
        return [...document.querySelectorAll<HTMLElement>('body *')].filter((e) => !inScroller(e) && e.getBoundingClientRect().right > window.innerWidth + 0.5).map((e) => `${e.tagName}#${e.id}.${e.className}`);
      });
      assert.equal(wide, []);
      assert.ok(await narrow.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    } finally {
      await narrow.close();
    }
  });

  test('without WebGPU, Run keeps the WebGPU message', async () => {
    const bare = await browser!.newPage();
    try {
      await bare.addInitScript(() => { delete (Navigator.prototype as { gpu?: unknown }).gpu; });
      await bare.goto(origin);
      await bare.waitForFunction(() => window.blApp !== undefined);
      const noGpu = (await bare.locator('#message').textContent())!;
      assert.match(noGpu, /^This browser has no WebGPU/);
      await bare.click('#run');
      await bare.waitForFunction(() => window.blApp.errors >= 1 && !window.blApp.busy);
      assert.is(await bare.locator('#message').textContent(), noGpu);
      await bare.click('#apply');
      await bare.waitForFunction(() => window.blApp.errors >= 2 && !window.blApp.busy);
      assert.is(await bare.locator('#message').textContent(), noGpu);
    } finally {
      await bare.close();
    }
  });

  test('a Llama checkpoint: without tokenizer.json one line says to pick it; with it the model loads and runs, its lens leaving out special and padded ids', async () => {
    const cfg = { nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, nEmbd: 16, nInner: 24, vocabSize: 320, eps: 1e-5, ropeTheta: 10000, ropeScaling: { type: 'default' as const }, tied: false, bias: { qkv: false, o: false, mlp: false } };
    const { dir } = await writeLlamaCheckpoint(cfg, 4);
    const weights = [join(dir, 'config.json'), join(dir, 'model.safetensors')];
    try {
      assert.match(await step(page, 'errors', () => page.setInputFiles('#files', weights)), /no tokenizer\.json; put the tokenizer\.json \(and tokenizer_config\.json\) that came with the model beside its weights, or pick them with the weights on the page/);
      await step(page, 'loads', () => page.setInputFiles('#files', [...weights, join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json')]));
      assert.match((await page.locator('#model-info').textContent())!, /^model\.safetensors: Llama, 2 layers, d = 16, 4 heads \(2 key\/value\)/);
      assert.is(await run(page, { prompt: 'The Eiffel Tower is in', target: ' Rome', k: '3', layers: '' }), '');
      const analysis = (await page.locator('#analysis').textContent())!;
      assert.match(analysis, /<s>/, 'BOS in the grid');
      assert.match(analysis, /FF1 \(mlp\.up_proj\)/, "FF1's grid is up_proj's");
      assert.match(analysis, /self_attn\.k_proj/, 'the stored modules in the rank table');
      // <unk>, <s>, </s> and the rows above the tokenizer's PIECE_TOKENS: in no list, as analyze's.
      const result = (JSON.parse((await page.locator('#bl-data').textContent())!) as Report).results[0]!;
      const left = cfg.vocabSize - PIECE_TOKENS + 3;
      assert.equal(result.settings.excluded, { count: left, padded: left - 3, special: 3 });
      const listed = result.layers.flatMap((l) => l.modules.flatMap((m) => [...m.x, ...m.delta].flatMap((v) => [...(v.top ?? []), ...(v.bottom ?? [])])));
      assert.ok(listed.length > 0 && listed.every(({ id }) => id > 2 && id < PIECE_TOKENS), 'a special or padded id listed');
      assert.match((await page.locator('#analysis').innerHTML())!, `(of ${cfg.vocabSize - left} ranked ids)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a GPT-NeoX checkpoint with its tokenizer.json loads and runs; the grids name its modules and its lens leaves out special and padded ids', async () => {
    const cfg = { nLayer: 2, nHead: 4, nEmbd: 16, nInner: 24, vocabSize: 301, eps: 1e-5, rotaryPct: 0.5, rotaryBase: 10000, parallel: true, act: 'gelu' as const, attentionBias: true, tied: false };
    const { dir } = await writeNeoxCheckpoint(cfg, 4, { maxPositions: 128 });
    try {
      await step(page, 'loads', () => page.setInputFiles('#files', ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => join(dir, f))));
      assert.match((await page.locator('#model-info').textContent())!, /^model\.safetensors: GPT-NeoX, 2 layers, d = 16, 4 heads/);
      assert.is(await run(page, { prompt: 'The Eiffel Tower is in', target: ' Rome', k: '3', layers: '' }), '');
      assert.match((await page.locator('#analysis').textContent())!, /mlp\.dense_4h_to_h/);
      // <|endoftext|>, <|padding|> and the rows above the tokenizer's NEOX_TOKENS: in no list.
      const result = (JSON.parse((await page.locator('#bl-data').textContent())!) as Report).results[0]!;
      assert.equal(result.settings.excluded, { count: cfg.vocabSize - NEOX_TOKENS + 2, padded: cfg.vocabSize - NEOX_TOKENS, special: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no page errors', () => {
    assert.equal(problems, []);
  });
}

test.run();
