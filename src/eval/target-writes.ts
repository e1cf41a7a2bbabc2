// How often a fact's gradient writes the edit target (paper §5, Fig. 5/7): for each
// record, the Backward Lens of prompt -> target_new, and per layer whether the
// target's first token is among the k least probable tokens of FF2's delta_n (the
// update subtracts delta, so these are the tokens the edit writes in).
import { analyze } from '../lens/analyze.ts';
import type { Model } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface PromptTargetNew {
  prompt: string;
  targetNew: string;
}

export interface LayerWrites {
  layer: number;
  /** Records whose target is among the k least probable tokens of LL(delta_n). */
  hits: number;
  total: number;
  rate: number;
  /** Median over records of the target's 1-based rank counted from the least probable. */
  medianRank: number;
}

export async function targetWrites(
  model: Model,
  tokenizer: Tokenizer,
  items: readonly PromptTargetNew[],
  k = 5,
  onBatch?: (done: number) => void,
  batchSize = 16,
): Promise<LayerWrites[]> {
  const ranks: number[][] = Array.from({ length: model.config.nLayer }, () => []);
  for (let i = 0; i < items.length; i += batchSize) {
    const pairs = items.slice(i, i + batchSize).map((x) => ({ prompt: x.prompt, target: ` ${x.targetNew}` }));
    for (const a of await analyze(model, tokenizer, pairs, { modules: ['ff_out'], k: 1 })) {
      for (const { layer, modules } of a.layers) ranks[layer]!.push(modules[0]!.delta.at(-1)!.targetRank!);
    }
    onBatch?.(Math.min(items.length, i + batchSize));
  }
  return ranks.map((r, layer) => {
    const hits = r.filter((x) => x <= k).length;
    const sorted = r.slice().sort((a, b) => a - b);
    return { layer, hits, total: r.length, rate: r.length ? hits / r.length : 0, medianRank: sorted[(sorted.length - 1) >> 1] ?? 0 };
  });
}
