// Renders an `analyze --html` report to a PNG in headless Chromium, for the docs
// (docs/analyze-report.png); fails if the page logs an error.
//   node dist/scripts/screenshot-report.js --html report.html --out docs/analyze-report.png [--width 1280]
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

const { values } = parseArgs({ options: { html: { type: 'string' }, out: { type: 'string' }, width: { type: 'string', default: '1280' } } });
if (!values.html || !values.out) throw new Error('usage: screenshot-report --html IN.html --out OUT.png [--width PX]');
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);

const browser = await chromium.launch({ executablePath: CHROMIUM });
try {
  const page = await browser.newPage({ viewport: { width: Number(values.width), height: 800 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(pathToFileURL(resolve(values.html)).href);
  await page.screenshot({ path: values.out, fullPage: true });
  if (errors.length) throw new Error(`the page reported errors: ${errors.join(' | ')}`);
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
}
