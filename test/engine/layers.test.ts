// The folder-level import graph of src/ (and web/, the page on top of it): no cycle,
// and every import runs down the order docs/DESIGN.md states (gpu → autograd → ops →
// model → pass → lens | edit → eval | study → report → cli | web). Read from the
// sources in the working directory, as the README test reads README.md.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// Folders on one rank are siblings: neither may import the other. Root files are
// their own node, named with their extension.
const RANKS: readonly (readonly string[])[] = [
  ['errors.ts', 'half.ts', 'tensor.ts', 'wgsl.d.ts'],
  ['tokenizer'],
  ['gpu', 'data'],
  ['autograd'],
  ['ops'],
  ['model'],
  ['pass'],
  ['lens', 'edit', 'train'],
  ['eval', 'study'],
  ['report'],
  // The library for browsers, which the page may use; the Node library adds to it.
  ['browser.ts'],
  ['cli', 'web'],
  // Entry points: the CLI binary and the library for Node.
  ['cli.ts', 'index.ts'],
];
const RANK = new Map(RANKS.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

interface Edge { from: string; to: string; where: string }

const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});

/** The node a file belongs to: its top folder under src/, a root file's name, or web. */
function nodeOf(file: string): string | undefined {
  const [top, ...rest] = relative('.', file).split(/[\\/]/);
  if (top === 'web') return 'web';
  if (top !== 'src') return undefined;
  return rest[0];
}

function edges(): Edge[] {
  const out: Edge[] = [];
  // Static and dynamic imports and re-exports with a relative specifier.
  const spec = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const file of [...walk('src'), ...walk('web')]) {
    const from = nodeOf(file)!;
    for (const m of readFileSync(file, 'utf8').matchAll(spec)) {
      const to = nodeOf(normalize(join(dirname(file), m[1])));
      if (to !== undefined && to !== from) out.push({ from, to, where: `${file} imports ${m[1]}` });
    }
  }
  return out;
}

/** One cycle of the folder graph as its edges, or undefined. */
function findCycle(all: readonly Edge[]): Edge[] | undefined {
  const next = new Map<string, Edge[]>();
  for (const e of all) next.set(e.from, [...(next.get(e.from) ?? []), e]);
  const state = new Map<string, 'open' | 'done'>();
  const path: Edge[] = [];
  const visit = (node: string): Edge[] | undefined => {
    state.set(node, 'open');
    for (const e of next.get(node) ?? []) {
      if (state.get(e.to) === 'open') return [...path.slice(path.findIndex((p) => p.from === e.to)), e];
      if (state.has(e.to)) continue;
      path.push(e);
      const found = visit(e.to);
      if (found) return found;
      path.pop();
    }
    state.set(node, 'done');
    return undefined;
  };
  for (const node of next.keys()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

test('no import cycle between src/ folders', () => {
  const cycle = findCycle(edges());
  assert.is(cycle, undefined, `import cycle: ${cycle?.map((e) => `${e.from} → ${e.to} (${e.where})`).join(', ')}`);
});

test('every src/ folder has a place in the layer order', () => {
  const nodes = new Set([...walk('src'), ...walk('web')].map((f) => nodeOf(f)!));
  const unplaced = [...nodes].filter((n) => !RANK.has(n));
  assert.equal(unplaced, [], `add ${unplaced.join(', ')} to RANKS here and to the order in docs/DESIGN.md`);
});

test('imports run down the layer order, never between siblings', () => {
  const wrong = edges().filter((e) => RANK.has(e.from) && RANK.has(e.to) && RANK.get(e.to)! >= RANK.get(e.from)!);
  assert.equal(wrong.map((e) => e.where), []);
});

test('the cycle finder finds a cycle', () => {
  const cycle = findCycle([{ from: 'a', to: 'b', where: '1' }, { from: 'b', to: 'c', where: '2' }, { from: 'c', to: 'b', where: '3' }]);
  assert.equal(cycle?.map((e) => e.where), ['2', '3']);
});

test.run();
