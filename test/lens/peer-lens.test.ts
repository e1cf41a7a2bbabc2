// The PyTorch peer (bench/peers) must pick the same top-k / bottom-k ids, watched
// ranks and gradient ranks as the engine, ties included, or bench/peer.ts would
// compare unequal work. Against the float64 reference; skipped without torch.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rankOfProduct } from '../../src/autograd/linalg.ts';
import { mulberry32Ref, rankRef, topkRef } from '../reference/ops.ts';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const script = fileURLToPath(new URL('../../../bench/peers/check.py', import.meta.url));

test('peer lens: top-k, bottom-k and ranks with ties, as the vocabulary kernels order them', () => {
  if (!hasTorch) return void console.log(`  skipped: torch does not import for ${PYTHON} (apt-get install python3-torch)`);
  const r = mulberry32Ref(5);
  // Few distinct values, so most rows tie across the k-th place.
  const rows = [1, 7, 13, 50].map((V) => Array.from({ length: V }, () => Math.floor(r() * 4) - 2));
  const k = 3;
  const factors = [
    { n: 3, inDim: 7, outDim: 5, zeroRow: -1 },
    { n: 4, inDim: 6, outDim: 9, zeroRow: 2 },
  ].map(({ n, inDim, outDim, zeroRow }) => {
    const x = Array.from({ length: n }, () => Array.from({ length: inDim }, () => r() - 0.5));
    const delta = Array.from({ length: n }, (_, i) => Array.from({ length: outDim }, () => (i === zeroRow ? 0 : r() - 0.5)));
    return { x, delta, want: rankOfProduct(new Float32Array(x.flat()), new Float32Array(delta.flat()), n, inDim, outDim).rank };
  });
  const cases = rows.map((scores) => ({ scores: [scores], k: Math.min(k, scores.length), ids: [0, scores.length - 1, scores.length >> 1] }));
  const out = spawnSync(PYTHON, [script], { input: JSON.stringify({ cases, factors }), encoding: 'utf8' });
  assert.is(out.status, 0, out.stderr);
  type Got = { top: number[][]; bottom: number[][]; rankFromTop: number[][]; rankFromBottom: number[][] };
  const got = JSON.parse(out.stdout) as { cases: Got[]; factorRanks: number[] };
  cases.forEach(({ scores: [scores], ids }, c) => {
    const V = scores!.length;
    const g = got.cases[c]!;
    assert.equal(g.top[0], topkRef(scores!, k, 'top'), `top-k of ${V}`);
    assert.equal(g.bottom[0], topkRef(scores!, k, 'bottom'), `bottom-k of ${V}`);
    ids.forEach((id, w) => {
      assert.is(g.rankFromTop[w]![0], rankRef(scores!, id, 'top') + 1, `rank of ${id} from the top, V ${V}`);
      assert.is(g.rankFromBottom[w]![0], rankRef(scores!, id, 'bottom') + 1, `rank of ${id} from the bottom, V ${V}`);
    });
  });
  assert.equal(got.factorRanks, factors.map((f) => f.want));
});

test.run();
