// Analyses made up without a GPU, for the report tests: any tokens (hostile ones
// included), any layers and modules, norms and probabilities from a seed.
import type { Analysis, ModuleView, Token, TokenProb, VectorView } from '../../src/lens/types.ts';
import { ROLES, type Role } from '../../src/model/config.ts';
import { gpt2 } from '../../src/model/families/gpt2.ts';
import { mulberry32Ref } from '../reference/ops.ts';

export interface FakeOptions {
  tokens?: string[];
  target?: string;
  layers?: number[];
  modules?: readonly Role[];
  k?: number;
  /** Words the top/bottom lists draw from; the target comes first in every delta's bottom list. */
  words?: string[];
  seed?: number;
}

// Which spanning vectors are d-dimensional and so get a logit lens (see analyze.ts).
const X_IS_D: readonly Role[] = ['attn_in', 'ff_in'];
const DELTA_IS_D: readonly Role[] = ['attn_out', 'ff_out'];

export function fakeAnalysis(o: FakeOptions = {}): Analysis {
  const r = mulberry32Ref(o.seed ?? 1);
  const words = o.words ?? [' Paris', ' Rome', ' the', ' city', 'ing', ' Barcelona'];
  const tokens = (o.tokens ?? ['L', 'ion', 'el', ' Messi', ' plays', ' for']).map((text, id): Token => ({ id: 1000 + id, text }));
  const target: Token = { id: 6342, text: o.target ?? ' Paris' };
  const original: TokenProb = { id: 1, text: ' Barcelona', prob: 0.31 };
  const k = o.k ?? 3;
  const modules = o.modules ?? ROLES;
  const list = (first?: Token): TokenProb[] => Array.from({ length: k }, (_, j) => ({ ...(j === 0 && first ? first : { id: 2000 + j, text: words[Math.floor(r() * words.length)]! }), prob: r() / (j + 1) }));
  const view = (projected: boolean, isDelta: boolean, last: boolean): VectorView => {
    const norm = (last ? 5 : 1) * r();
    if (!projected) return { norm };
    return { norm, top: list(), bottom: list(isDelta ? target : undefined), targetRank: isDelta ? 1 : 1 + Math.floor(r() * 50000), originalRank: 1 + Math.floor(r() * 50000) };
  };
  const layers = (o.layers ?? [0, 1, 2]).map((layer) => ({
    layer,
    modules: modules.map((role): ModuleView => ({
      module: gpt2.modules[role],
      inDim: 48,
      outDim: 48,
      rank: tokens.length,
      rankMargin: null,
      rankAmbiguous: false,
      singularValues: tokens.map(() => r()),
      x: tokens.map((_, i) => view(X_IS_D.includes(role), false, i === tokens.length - 1)),
      delta: tokens.map((_, i) => view(DELTA_IS_D.includes(role), true, i === tokens.length - 1)),
    })),
  }));
  return {
    prompt: tokens.map((t) => t.text).join(''),
    target: target.text,
    tokens,
    forced: [],
    targetTokens: [target],
    loss: 3.5,
    targetProb: 0.03,
    original,
    settings: { layers: layers.map((l) => l.layer), modules: [...modules], k, normalized: false, targetTokens: 'first' },
    layers,
    memory: { factorBytes: 1000, denseBytes: 100000 },
    warnings: [],
  };
}
