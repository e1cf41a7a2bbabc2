// sweep: quartiles interpolate like numpy's; on the default model the bisection
// stays within its bounds and its number of tries, and the command writes its JSON,
// table and two-panel SVG, and refuses a directory that holds a sweep.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quartiles } from '../../src/eval/sweep.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-sweep-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

test('quartiles interpolate between order statistics', () => {
  assert.equal(quartiles([4, 1, 3, 2]), { q1: 1.75, median: 2.5, q3: 3.25 });
  assert.equal(quartiles([7]), { q1: 7, median: 7, q3: 7 });
});

test('sweep on the default model: eta within the bounds, JSON + table + two-panel SVG', () => {
  const out = join(work, 'run');
  const r = spawnSync(process.execPath, ['dist/cli.js', 'sweep', '--records', '0', '--methods', 'shift', '--layers', '3', '--tolerance', '0.2', '--no-perplexity', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
  const [cell] = doc.cells;
  assert.is(cell.method, 'shift');
  assert.ok(cell.eta > 1e-3 && cell.eta <= 1e3, `eta ${cell.eta}`);
  assert.ok(cell.tries >= 3 && cell.tries <= 2 + Math.ceil(Math.log2(Math.log(1e6) / Math.log(1.2))), `tries ${cell.tries}`);
  assert.match(readFileSync(join(out, 'sweep.md'), 'utf8'), /\| forward pass shift \| 3 \| 1 \/ 1 \|/);
  const svg = readFileSync(join(out, 'sweep.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.is(svg.match(/<svg /g)!.length, 3, 'two panels in one figure');
  const again = spawnSync(process.execPath, ['dist/cli.js', 'sweep', '--records', '0', '--out', out], { encoding: 'utf8' });
  assert.is(again.status, 2);
  assert.match(again.stderr, /already holds a sweep/);
});

test.run();
