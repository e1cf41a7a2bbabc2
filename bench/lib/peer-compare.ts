// Whether this engine's analysis and the PyTorch peer's did the same work: the
// factors must agree to a tolerance; gradient ranks and grid cells are reported as
// agreement counts (near-ties in a random model's logits may order differently).
import type { Analysis } from '../../src/lens/types.ts';

export interface PeerResult {
  torch: string;
  threads: number;
  blas: { built: string; loaded: string[]; name: string };
  loadMs: number;
  runs: Record<string, number>[];
  projected: number;
  ranks: Record<string, number>;
  cells: Record<string, number[]>;
  factorDiff: Record<string, { maxAbs: number; rel: number; scale: number }>;
}

export interface PeerCheck {
  ok: boolean;
  lines: string[];
  summary: { worstAbs: number; worstRel: number; worstFactor: string; failed: string[]; ranksEqual: number; ranks: number; cellsEqual: number; cells: number };
}

export function compareWithPeer(ours: Analysis, peer: PeerResult, tol: number): PeerCheck {
  const diffs = Object.entries(peer.factorDiff ?? {});
  if (diffs.length === 0) throw new Error('the peer compared no factors: it needs --factors FILE');
  // A factor passes when it agrees absolutely or relatively to its own largest entry.
  const failed = diffs.filter(([, d]) => d.maxAbs > tol && d.rel > tol).map(([name]) => name);
  const [worstFactor, worst] = diffs.reduce((w, e) => (e[1].maxAbs > w[1].maxAbs ? e : w));
  const worstRel = Math.max(...diffs.map(([, d]) => d.rel));
  let ranksEqual = 0;
  let ranks = 0;
  let cellsEqual = 0;
  let cells = 0;
  for (const layer of ours.layers) {
    for (const m of layer.modules) {
      ranks++;
      if (peer.ranks[`h.${layer.layer}.${m.module}`] === m.rank) ranksEqual++;
      for (const [what, views, list] of [['x', m.x, 'top'], ['delta', m.delta, 'bottom']] as const) {
        const theirs = peer.cells[`h.${layer.layer}.${m.module}.${what}`];
        if (!theirs) continue;
        views.forEach((v, i) => {
          cells++;
          if (v[list]?.[0]?.id === theirs[i]) cellsEqual++;
        });
      }
    }
  }
  const ok = failed.length === 0;
  const lines = [
    `factors: ${diffs.length} tensors compared; largest difference ${worst.maxAbs.toExponential(2)} (${worstFactor}, whose largest entry is ${worst.scale.toExponential(2)}); largest relative ${worstRel.toExponential(2)}: ${ok ? `same work (tolerance ${tol})` : `DIFFERENT beyond ${tol}: ${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', ...' : ''}`}`,
    `gradient ranks equal in ${ranksEqual} of ${ranks} modules; top-1 (x) / bottom-1 (delta) cells equal in ${cellsEqual} of ${cells}`,
  ];
  return { ok, lines, summary: { worstAbs: worst.maxAbs, worstRel, worstFactor, failed, ranksEqual, ranks, cellsEqual, cells } };
}
