// The three reports on made-up analyses (no GPU): grid layout and colour rules,
// JSON that round-trips every number, HTML that escapes every token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gridsSvg } from '../../src/report/grid-svg.ts';
import { htmlChunks, renderHtml } from '../../src/report/html.ts';
import { compactJsonChunks, jsonChunks, renderJson, report, type ModelInfo, type Report } from '../../src/report/json.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { displayWidth, fit } from '../../src/report/width.ts';
import { fakeAnalysis } from './fake-analysis.ts';

const MODEL: ModelInfo = { source: 'test', nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const gridRows = (text: string) => text.split('\n').filter((l) => /^\s+\d+ │/.test(l.replace(ANSI, '')));

test('terminal without colour: last layer on top, one column per token, the target marked, no escape codes', () => {
  const a = fakeAnalysis({ layers: [0, 1, 2, 3] });
  const text = renderTerminal(a, { color: 'none', cellWidth: 8 });
  assert.not.match(text, ANSI);
  const rows = gridRows(text);
  assert.is(rows.length, 8, 'two grids of four layers');
  assert.equal(rows.slice(0, 4).map((l) => Number(l.split('│')[0])), [3, 2, 1, 0]);
  // Every FF2 delta's bottom-1 is the target in this fake, with its space outside the marks.
  for (const row of rows.slice(0, 4)) assert.is(row.split('*Paris*').length - 1, a.tokens.length, row);
  const widths = new Set(text.split('\n').filter((l) => l.includes('│')).map((l) => displayWidth(l.trimEnd())));
  assert.ok(Math.max(...widths) <= 6 + 1 + a.tokens.length * 9, 'cells keep their width');
  assert.match(text, /loss 3\.5 · the model answers " Barcelona" \(p 31%\) · target " Paris" \(p 3%\)/);
  assert.match(text, /layer {2}target rank in FF2 δ_n {2}rank attn\.c_attn {2}rank attn\.c_proj {2}rank mlp\.c_fc {2}rank mlp\.c_proj/);
});

test('zero-norm cells (the last layer, i < n) are blank in the terminal and the HTML, not the lens of 0', () => {
  const a = fakeAnalysis({ layers: [0, 1] });
  // As analyze gives it: only the last token gets gradient in the last layer's MLP.
  const zeroed = JSON.parse(JSON.stringify(a)) as { layers: { modules: { module: string; delta: { norm: number }[] }[] }[]; tokens: unknown[] };
  for (const m of zeroed.layers[1]!.modules) if (m.module !== 'attn.c_attn') m.delta.forEach((d, i) => { if (i < zeroed.tokens.length - 1) d.norm = 0; });
  const text = renderTerminal(zeroed as unknown as typeof a, { color: 'none', cellWidth: 8 });
  const ff2Top = gridRows(text)[0]!;
  assert.is(ff2Top.split('*Paris*').length - 1, 1, ff2Top);
  assert.match(text, /blank: δ_i is exactly 0/);
  const html = renderHtml(report(MODEL, [zeroed as unknown as typeof a]));
  assert.is((html.match(/data-l="1" data-m="3" data-v="delta" data-i="\d+">(?=<\/td>)/g) ?? []).length, a.tokens.length - 1);
});

test('HTML: warnings above the grids, the edits in the header, blank cells with their legend line, space-only tokens visible, one Tab stop per grid (issue 21)', () => {
  const a = { ...fakeAnalysis({ layers: [0, 1], tokens: ['A', ' ', '  ', ' b'], words: [' '] }), warnings: ['the target "<b>" is spelled in single bytes'] };
  for (const m of a.layers[1]!.modules) m.delta.forEach((d, i) => { if (i < a.tokens.length - 1) (d as { norm: number }).norm = 0; });
  const edits = [{ prompt: 'Messi plays for', target: ' Paris', method: 'shift' as const, layers: [2], lr: 0.5, steps: 20 }];
  const html = renderHtml(report({ ...MODEL, edits }, [a]));
  assert.ok(html.includes('<ul class="warnings"><li>warning: the target &quot;&lt;b&gt;&quot; is spelled in single bytes</li></ul>'));
  assert.ok(html.indexOf('class="warnings"') < html.indexOf('class="grid"'), 'above the grids');
  assert.ok(html.includes('edited in memory before this analysis (1): shift at layer 2, η 0.5, up to 20 passes: &quot;Messi plays for&quot; → &quot; Paris&quot;'));
  assert.not.match(renderHtml(report(MODEL, [a])), /edited in memory/);
  assert.ok(html.includes('<p class="note">blank: δ_i is exactly 0 (the last layer, i &lt; n), so its lens says nothing</p>'));
  assert.ok(html.includes('<th>␣</th><th>␣␣</th><th> b</th>'), 'space-only column heads');
  assert.match(html, /data-v="x" data-i="\d+">␣<\/td>/, 'a space-only token in a cell');
  for (const grid of html.split('<figure class="grid">').slice(1)) assert.is(grid.split('</figure>')[0]!.split('tabindex="0"').length - 1, 1, 'one Tab stop per grid');
});

test('SVG grids: both grids, the target outlined, zero-norm cells blank, text escaped, no external references', () => {
  const a = fakeAnalysis({ layers: [0, 1], tokens: ['<b>', ' &', ' Messi'] });
  const zeroed = JSON.parse(JSON.stringify(a)) as { layers: { modules: { module: string; delta: { norm: number }[] }[] }[] };
  for (const m of zeroed.layers[1]!.modules) m.delta.forEach((d, i) => { if (i < 2) d.norm = 0; });
  const svg = gridsSvg(zeroed as unknown as typeof a);
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /FF2 \(mlp\.c_proj\)/);
  assert.match(svg, /FF1 \(mlp\.c_fc\)/);
  assert.match(svg, /&lt;b&gt;/);
  assert.not.match(svg, /<b>|href=|<script/);
  // FF2's bottom-1 is the target everywhere in this fake except the blank zero cells: 3 + 1 outlined.
  assert.is((svg.match(/stroke="#0a58ca"/g) ?? []).length, 4);
  assert.is((svg.match(/<title>δ_i = 0<\/title>/g) ?? []).length, 2, "FF2's last layer, i < n (FF1's x_i there are not zero)");
});

test('terminal colour: 256-colour or truecolor backgrounds, the target bold and underlined', () => {
  const a = fakeAnalysis();
  const c256 = renderTerminal(a, { color: '256' });
  assert.match(c256, /\x1b\[48;5;\d+;38;5;\d+m/);
  assert.match(c256, /\x1b\[1;4m Paris\x1b\[22;24m/);
  assert.not.match(c256, /\*Paris\*/);
  assert.match(renderTerminal(a, { color: 'truecolor' }), /\x1b\[48;2;\d+;\d+;\d+;38;2;\d+;\d+;\d+m/);
  assert.is(c256.split('\n').length, renderTerminal(a, { color: 'none' }).split('\n').length);
});

test('terminal: modules not analysed lose their grid, not the report', () => {
  const attnOnly = renderTerminal(fakeAnalysis({ modules: ['attn_in', 'attn_out'] }), { color: 'none' });
  assert.match(attnOnly, /no grid: the analysis has neither FF2 nor FF1/);
  assert.not.match(attnOnly, /target rank in FF2/);
  assert.match(attnOnly, /rank attn\.c_attn/);
  const ff1 = renderTerminal(fakeAnalysis({ modules: ['ff_in'] }), { color: 'none' });
  assert.match(ff1, /FF1 \(mlp\.c_fc\)/);
  assert.not.match(ff1, /FF2 \(mlp\.c_proj\)/);
});

test('terminal: long, wide and combining tokens are cut to the cell width', () => {
  assert.is(fit('representation', 8), 'represe…');
  assert.is(displayWidth(fit('東京都庁舎ビル', 8)), 8);
  assert.is(displayWidth('e\u0301'), 1);
  const text = renderTerminal(fakeAnalysis({ tokens: ['東京都庁舎ビル', ' extraordinarily', 'e\u0301tonnant'] }), { color: 'none', cellWidth: 6 });
  const header = text.split('\n').find((l) => l.startsWith('layer'))!;
  assert.is(displayWidth(header), 5 + 3 + 3 * 6 + 2);
});

test('JSON: version, model and every number of every analysis round-trip', () => {
  const results = [fakeAnalysis({ seed: 1 }), fakeAnalysis({ seed: 2, layers: [5] })];
  const parsed = JSON.parse(renderJson(report(MODEL, results)));
  assert.is(parsed.version, 1);
  assert.equal(parsed.model, MODEL);
  assert.equal(parsed.results, JSON.parse(JSON.stringify(results)));
  // Schema 1 names modules as the checkpoint does, not by role.
  assert.is(parsed.results[0].layers[0].modules[3].module, 'mlp.c_proj');
  assert.is(parsed.results[0].layers[2].modules[3].delta[5].bottom[0].prob, results[0]!.layers[2]!.modules[3]!.delta[5]!.bottom![0]!.prob);
});

test('JSON in pieces is JSON.stringify(report, null, 1) to the byte: omitted and null members, empty and nested containers, toJSON, typed and sparse arrays, escapes', () => {
  const odd = {
    gone: undefined, fn: () => 1, list: [undefined, () => 1, Symbol('s'), null, NaN, -0, Infinity, 1e-7, 'é\n"\\\u2028', [], {}, [[]], { x: {} }],
    date: new Date(0), typed: Float32Array.of(1.5, -2), own: { toJSON: () => ({ swapped: [1, 2] }) }, sparse: [, 1], empty: {}, none: [],
    deep: { a: { b: { c: { d: { e: { f: { g: [1, { h: 2 }] } } } } } } }, 'ключ \u2028"': [{ gone: undefined }],
  };
  const doc = { version: 1, model: MODEL, results: [odd, odd] } as unknown as Report;
  assert.is([...jsonChunks(doc)].join(''), `${JSON.stringify(doc, null, 1)}\n`);
  assert.is([...compactJsonChunks(doc)].join(''), JSON.stringify(doc));
  // A result of ~1 MB (gpt2-medium's is 2.6 MB) is written about 64k characters at a time, never whole.
  const big = report(MODEL, [fakeAnalysis({ layers: Array.from({ length: 16 }, (_, l) => l) }), fakeAnalysis()]);
  const pieces = [...jsonChunks(big)];
  assert.is(pieces.join(''), `${JSON.stringify(big, null, 1)}\n`);
  assert.ok(pieces.length > 5 && pieces.every((p) => p.length < 80_000), pieces.map((p) => p.length).join(', '));
});

test('the HTML report in pieces: its embedded data is JSON.stringify(report) with < escaped, no piece holds a whole ~1 MB result, and renderHtml is their text', () => {
  const a = fakeAnalysis({ layers: Array.from({ length: 16 }, (_, l) => l) });
  const big = report(MODEL, [{ ...a, prompt: '</script><!-- x' }, fakeAnalysis()]);
  const pieces = [...htmlChunks(big)];
  const html = pieces.join('');
  assert.is(renderHtml(big), html);
  const data = /<script type="application\/json" id="bl-data">(.*?)<\/script>/s.exec(html)![1]!;
  assert.is(data, JSON.stringify(big).replace(/</g, '\\u003c'));
  assert.not.ok(data.includes('<'));
  assert.equal(JSON.parse(data), JSON.parse(JSON.stringify(big)));
  assert.ok(pieces.every((p) => p.length < 600_000), pieces.map((p) => p.length).join(', '));
  assert.ok(html.startsWith('<!doctype html>\n') && html.endsWith('</body></html>'));
});

const HOSTILE = ['</script><script>window.pwned=1</script>', '<b>&amp;', '"\'quoted\'"', ' Paris'];

test('HTML: self-contained, every token escaped, the embedded data equal to the JSON report', () => {
  const a = fakeAnalysis({ tokens: HOSTILE, words: HOSTILE, target: '<img src=x onerror="window.pwned=2">' });
  const doc = report(MODEL, [a]);
  const html = renderHtml(doc);
  assert.not.match(html, /<script>window\.pwned|<img src=x|<b>&amp;/);
  assert.is(html.split('</script>').length - 1, 2, 'only the two script blocks close');
  assert.not.match(html, /(src|href)="(https?:)?\/\//);
  assert.match(html, /&lt;\/script&gt;&lt;script&gt;window\.pwned=1&lt;\/script&gt;/);
  const data = /<script type="application\/json" id="bl-data">(.*?)<\/script>/s.exec(html)![1]!;
  assert.equal(JSON.parse(data), JSON.parse(renderJson(doc)));
  assert.is([...html.matchAll(/<svg /g)].length, 2, 'rank and norm plots');
  assert.match(html, /class="legend-bar"/);
});

test('HTML: one section per analysis; no FF2 means no rank plot', () => {
  const html = renderHtml(report(MODEL, [fakeAnalysis(), fakeAnalysis({ modules: ['ff_in'] }), fakeAnalysis({ seed: 3 })]));
  assert.is([...html.matchAll(/<section class="pair"/g)].length, 3);
  assert.is([...html.matchAll(/<svg /g)].length, 5);
});

test.run();
