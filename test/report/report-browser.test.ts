// The HTML report in headless Chromium: it loads from a file with no errors and no
// requests, hostile token text stays text, and hovering a cell shows its lists.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderHtml } from '../../src/report/html.ts';
import { report } from '../../src/report/json.ts';
import { fakeAnalysis } from './fake-analysis.ts';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = '</script><img src=x onerror="window.pwned=1">&amp;"';
const MODEL = { source: 'test', nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };

if (!existsSync(CHROMIUM)) {
  test('HTML report in chromium', () => {
    throw new Error(`${CHROMIUM} not found: the HTML report test needs it, apt-get install chromium`);
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'bl-html-'));
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];
  const url = pathToFileURL(join(dir, 'report.html')).href;

  test.before(async () => {
    const results = [fakeAnalysis({ tokens: ['The', HOSTILE, ' for'], words: [HOSTILE, ' Rome'], k: 4 }), fakeAnalysis({ seed: 9, modules: ['ff_in'] })];
    writeFileSync(join(dir, 'report.html'), renderHtml(report(MODEL, results)));
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: 'load' });
  });
  test.after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the report loads with no console errors, no page errors and no requests but itself', async () => {
    assert.equal(problems, []);
    assert.equal(requests, [url]);
    assert.is(await page.locator('section.pair').count(), 2);
    assert.is(await page.locator('svg.plot').count(), 3);
  });

  test('hostile token text is shown as text and never runs', async () => {
    assert.is(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.is(await page.locator('.grid th').nth(2).textContent(), HOSTILE);
    assert.is(await page.locator('img').count(), 0);
  });

  test('hovering a cell shows its k top and bottom tokens and the ranks; focus does too', async () => {
    const tip = page.locator('#bl-tip');
    assert.not.ok(await tip.isVisible());
    // FF2 grid, top row (layer 2), last token: the fake puts the target first in its bottom list.
    await page.locator('.grid').first().locator('tr').nth(1).locator('td').last().hover();
    assert.ok(await tip.isVisible());
    const text = (await tip.textContent())!;
    assert.match(text, /layer 2 · token 3 " for" · mlp\.c_proj δ_i/);
    assert.match(text, /target " Paris": rank 1 from the bottom/);
    assert.match(text, /least probable \(written in\)" Paris"/);
    assert.is(await tip.locator('tr').count(), 8, 'k = 4 rows in each list');
    await page.mouse.move(0, 0);
    assert.not.ok(await tip.isVisible());
    await page.locator('.grid').nth(1).locator('td').first().focus();
    assert.match((await tip.textContent())!, /mlp\.c_fc x_i/);
    assert.equal(problems, []);
  });
}

test.run();
