// What the web app shows, read back as plain data for the browser tests that compare
// it with the CLI's JSON: grid cells, gradient ranks, target-rank points, the edit
// panel's two sides; and a wait for a job to finish.
import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import type { Analysis } from '../../src/lens/types.ts';
import { paperRole } from '../../src/model/families/index.ts';
import { visible } from '../../src/report/format.ts';
import { serveWeb } from '../../scripts/serve-web.ts';

export interface Top { id: number; text: string; prob: number }
export interface EditSide { top: Top[]; target: { rank: number; prob: number } }

// SwiftShader on 2 busy cores: loading, a run and an edit take seconds each.
export const STEP_MS = 120_000;

/**
 * Serves the built page in `root`, opens it in Chromium and waits until the default
 * model has loaded; page errors and console errors are pushed to `problems`.
 */
export async function openApp(chromiumPath: string, root: string, problems: string[], opts: { acceptDownloads?: boolean } = {}): Promise<{ server: Server; browser: Browser; page: Page }> {
  const served = await serveWeb(root);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--enable-unsafe-webgpu'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: opts.acceptDownloads ?? false });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  await page.goto(served.url);
  await page.waitForFunction(() => window.blApp?.model === 'default' && !window.blApp.busy, undefined, { timeout: STEP_MS, polling: 100 });
  return { server: served.server, browser, page };
}

/** Every grid cell, the rank table, the target-rank plot under `root` (the page's #analysis, or an HTML report's body). */
export async function pageView(page: Page, root = '#analysis') {
  return page.evaluate((r) => ({
    cells: [...document.querySelectorAll<HTMLElement>(`${r} td[data-v]`)].map((td) => ({ l: td.dataset.l!, m: td.dataset.m!, v: td.dataset.v!, i: td.dataset.i!, text: td.textContent })),
    ranks: [...document.querySelectorAll(`${r} .ranks tr`)].slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => Number(td.textContent))),
    targetRanks: [...document.querySelectorAll(`${r} svg.plot circle title`)].map((t) => t.textContent!).filter((t) => t.startsWith('target ')),
  }), root);
}

type View = Awaited<ReturnType<typeof pageView>>;

/** The view is `ref`'s (a result of analyze --json): every FF grid cell's token exactly, the gradient ranks, the FF2 target ranks. */
export function assertShows(view: View, ref: Analysis): void {
  // The grids are the paper's FF1 and FF2 (a gated MLP's gate_proj has none).
  const ff = ref.layers[0]!.modules.filter((m) => paperRole(m.module) !== undefined).length;
  assert.is(view.cells.length, ref.layers.length * ff * ref.tokens.length);
  for (const c of view.cells) {
    const v = ref.layers[Number(c.l)]!.modules[Number(c.m)]![c.v as 'x' | 'delta']![Number(c.i)]!;
    // Exactly-zero vectors (the last layer's delta_i, i < n) are left blank, as in the HTML report.
    const expected = v.norm === 0 ? '' : visible(c.v === 'delta' ? v.bottom![0]!.text : v.top![0]!.text);
    assert.is(c.text, expected, `layer ${c.l} module ${c.m} ${c.v} token ${c.i}`);
  }
  const byLayerDesc = [...ref.layers].sort((a, b) => b.layer - a.layer);
  assert.equal(view.ranks, byLayerDesc.map((l) => l.modules.map((m) => m.rank)));
  const last = ref.tokens.length - 1;
  const expectedTargets = [...ref.layers].sort((a, b) => a.layer - b.layer).map((l) => `layer ${l.layer}: ${l.modules.find((m) => paperRole(m.module) === 'ff_out')!.delta[last]!.targetRank}`);
  assert.equal(view.targetRanks.map((t) => t.replace(/^target ".*", (?=layer )/, '')), expectedTargets);
}

export async function sideOf(page: Page, which: 'before' | 'after'): Promise<EditSide> {
  return page.evaluate((w) => {
    const box = document.querySelector<HTMLElement>(`#edit-result [data-side="${w}"]`)!;
    const top = [...box.querySelectorAll<HTMLTableRowElement>('tr')].map((tr) => ({ id: Number(tr.dataset.id), text: tr.cells[0]!.textContent!.slice(1, -1), prob: Number(tr.dataset.prob) }));
    const t = box.querySelector<HTMLElement>('.edit-target')!;
    return { top, target: { rank: Number(t.dataset.rank), prob: Number(t.dataset.prob) } };
  }, which);
}

/** One side of the edit panel is edit --json's: the top-5 ids and the target's rank exactly, probabilities within 1e-4 relative (1e-6 absolute). */
export function assertSameSide(got: EditSide, want: EditSide, what: string): void {
  assert.equal(got.top.map((t) => t.id), want.top.map((t) => t.id), `${what}: top-5 ids`);
  got.top.forEach((t, i) => assert.ok(Math.abs(t.prob - want.top[i]!.prob) <= 1e-4 * Math.max(1e-3, want.top[i]!.prob) + 1e-6, `${what}: p(${t.text}) ${t.prob} vs ${want.top[i]!.prob}`));
  assert.is(got.target.rank, want.target.rank, `${what}: target rank`);
}

/** Waits until window.blApp's counter `key` reaches `count` with no job in flight. */
export async function idle(page: Page, key: 'loads' | 'runs' | 'edits' | 'errors', count: number): Promise<void> {
  await page.waitForFunction(([k, n]) => window.blApp[k as 'runs'] >= (n as number) && !window.blApp.busy, [key, count] as const, { timeout: STEP_MS, polling: 100 });
}
