// `node dist/bench/web.js`: time from "Run" to a drawn grid for the quick-start pair
// in the web app (headless Chromium), next to the same analyze() call in Node on
// Dawn. With --screenshots DIR it also saves the page after an analysis and after a
// shift edit (the pictures in README.md and docs/cli/web.md).
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { getEngine } from '../src/gpu/engine.ts';
import { analyze } from '../src/lens/analyze.ts';
import { loadModel } from '../src/model/load-default.ts';
import { serveWeb } from '../scripts/serve-web.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '3' }, screenshots: { type: 'string' }, chromium: { type: 'string', default: '/usr/bin/chromium' } } });
const RUNS = Number(args.runs);
const PAIR = { prompt: 'Michel Denisot spoke the language', target: ' Russian' };
const ms = (xs: number[]) => xs.map((x) => `${x.toFixed(0)} ms`).join(', ');

console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const k = await getEngine();
// The bundle lives in dist/bench/, not beside weights/: the path is from the repository root.
const { model, tokenizer } = await loadModel('weights/default');
const node: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  await analyze(model, tokenizer, [PAIR]);
  node.push(performance.now() - t);
}
console.log(`node analyze() on ${k.gpu.adapterName}: ${ms(node)}`);
model.dispose();

const { server, url } = await serveWeb(fileURLToPath(new URL('../web/', import.meta.url)));
const browser = await chromium.launch({ executablePath: args.chromium, args: ['--enable-unsafe-webgpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url);
  await page.waitForFunction(() => window.blApp?.model === 'default' && !window.blApp.busy, undefined, { timeout: 300_000 });
  const web: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await page.press('#target', 'Enter');
    await page.waitForFunction((n) => window.blApp.runs > n && !window.blApp.busy, i, { timeout: 300_000 });
    web.push((await page.evaluate(() => window.blApp.lastRun!.ms)));
  }
  console.log(`chromium run-to-grid on ${await page.evaluate(() => window.blApp.adapter)}: ${ms(web)}`);
  if (args.screenshots) {
    await page.screenshot({ path: join(args.screenshots, 'web-analysis.png'), fullPage: true });
    await page.fill('#edit-layer', '2');
    await page.fill('#lr', '0.5');
    await page.click('#apply');
    await page.waitForFunction(() => window.blApp.edits > 0 && !window.blApp.busy, undefined, { timeout: 300_000 });
    await page.locator('#edit-panel').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(args.screenshots, 'web-edit.png'), fullPage: true });
    console.log(`screenshots in ${args.screenshots}`);
  }
} finally {
  await browser.close();
  server.close();
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
