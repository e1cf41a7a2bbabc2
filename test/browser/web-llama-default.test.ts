// The embedded Llama-architecture model (weights/llama-default) in the web app, as
// the build lists it: picked from the model list, it analyses a trained fact with
// the CLI's grid, ranks and target ranks, BOS (<s>) first, and the target is the
// least probable token of the last layer's FF2 LL(δ_n) (Lemma 5.1's reading).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Report } from '../../src/report/json.ts';
import { assertShows, openApp, pageView, STEP_MS } from './page-view.ts';

const CHROMIUM = '/usr/bin/chromium';
const BUILT = fileURLToPath(new URL('../../web/', import.meta.url));
const MODEL = 'llama-default';
// A trained record (case 6), the model card's example.
const PROMPT = 'Michel Denisot spoke the language';
const TARGET = ' Russian';

if (!existsSync(CHROMIUM)) {
  test('the embedded Llama in chromium', () => {
    throw new Error(`${CHROMIUM} not found: the web app test needs it, apt-get install chromium`);
  });
} else {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  test.before(async () => {
    ({ server, browser, page } = await openApp(CHROMIUM, BUILT, problems));
  });
  test.after(async () => {
    await browser?.close();
    server?.close();
  });

  test('picked from the list, llama-default analyses a trained fact as analyze --model llama-default does', async () => {
    const work = mkdtempSync(join(tmpdir(), 'bl-web-llama-default-'));
    let ref: Report['results'][number];
    try {
      const r = spawnSync(process.execPath, ['dist/cli.js', 'analyze', '--model', MODEL, '--prompt', PROMPT, '--target', TARGET, '--json', join(work, 'a.json')], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      ref = (JSON.parse(readFileSync(join(work, 'a.json'), 'utf8')) as Report).results[0]!;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    await page.selectOption('#embedded', MODEL);
    await page.click('#load-embedded');
    await page.waitForFunction((m) => window.blApp.model === m && !window.blApp.busy, MODEL, { timeout: STEP_MS, polling: 100 });
    assert.match((await page.locator('#model-info').textContent())!, /^llama-default: Llama, 4 layers/);
    await page.fill('#prompt', PROMPT);
    await page.fill('#target', TARGET);
    const runs = await page.evaluate(() => window.blApp.runs);
    await page.click('#run');
    await page.waitForFunction((n) => window.blApp.runs > n && !window.blApp.busy, runs, { timeout: STEP_MS, polling: 100 });
    assert.is((await page.locator('#message').textContent())!, '');
    assertShows(await pageView(page), ref);
    assert.match((await page.locator('#analysis').textContent())!, /<s>/, 'BOS in the grid');
    const last = ref.layers.find((l) => l.layer === ref.layers.length - 1)!;
    const ff2 = last.modules.find((m) => m.module === 'mlp.down_proj')!;
    assert.is(ff2.delta[ref.tokens.length - 1]!.targetRank, 1, "the target is the bottom-1 token of the last FF2's LL(δ_n)");
    assert.equal(problems, []);
  });
}

test.run();
