// The analysis result: plain, frozen data that the terminal grid, the JSON report,
// the HTML report and the browser app all read. docs/cli/json.md documents it as the JSON schema.
import type { TargetTokens } from '../pass/prepare.ts';

export interface Token {
  readonly id: number;
  /** Display text: leading spaces kept, unprintable bytes as \xNN. */
  readonly text: string;
}

export interface TokenProb extends Token {
  readonly prob: number;
}

/** One spanning vector: x_i (a layer input) or delta_i (a VJP) at input row i (a prompt or teacher-forced target token). */
export interface VectorView {
  readonly norm: number;
  /** Logit lens, only for d-dimensional vectors: k most probable tokens ... */
  readonly top?: readonly TokenProb[];
  /** ... and k least probable (what a delta writes in: the update subtracts delta). */
  readonly bottom?: readonly TokenProb[];
  /** 1-based rank of the target's first token: from the top for x, from the bottom for delta. */
  readonly targetRank?: number;
  /** The same for the model's original top-1 answer. */
  readonly originalRank?: number;
}

export interface ModuleView {
  /** The checkpoint's name of the module (Family.modules); roleNamed() gives its role. */
  readonly module: string;
  readonly inDim: number;
  readonly outDim: number;
  /** Exact rank of the gradient X^T Delta (Lemma 4.1). */
  readonly rank: number;
  /** The rank decision's gap ratio (RankResult.margin); null when no singular value was dropped. */
  readonly rankMargin: number | null;
  /** A singular value sits within 1e-9..1e-7 of the largest, near float32's threshold: the rank may be off by one. */
  readonly rankAmbiguous: boolean;
  readonly singularValues: readonly number[];
  /** Per row that gets gradient: the prompt tokens, then the `forced` target tokens. */
  readonly x: readonly VectorView[];
  readonly delta: readonly VectorView[];
}

export interface LayerView {
  readonly layer: number;
  readonly modules: readonly ModuleView[];
}

export interface AnalysisSettings {
  readonly layers: readonly number[];
  /** The checkpoint's module names, in the order of each layer's `modules`. */
  readonly modules: readonly string[];
  readonly k: number;
  readonly normalized: boolean;
  readonly targetTokens: TargetTokens;
  /** Absent when the lens leaves no row out (GPT-2); the original answer is never one of them. */
  readonly excluded?: ExcludedRows;
}

/**
 * Vocabulary rows every lens list and rank leaves out (Tokenizer.lensExcluded):
 * `padded` rows the tokenizer has no token for, `special` tokens; `count` both.
 */
export interface ExcludedRows {
  readonly count: number;
  readonly padded: number;
  readonly special: number;
}

export interface Analysis {
  readonly prompt: string;
  readonly target: string;
  /** The prompt's n tokens. */
  readonly tokens: readonly Token[];
  /**
   * Target tokens fed as input rows (teacher forcing): with targetTokens "all",
   * every target token but the last; otherwise none. They receive gradient too, so
   * every vector list, rank and norm covers tokens + forced.
   */
  readonly forced: readonly Token[];
  readonly targetTokens: readonly Token[];
  /** Summed NLL of the target token(s). */
  readonly loss: number;
  /** Probability of the target's first token after the prompt. */
  readonly targetProb: number;
  /** The model's own top-1 next token after the prompt. */
  readonly original: TokenProb;
  readonly settings: AnalysisSettings;
  readonly layers: readonly LayerView[];
  /** Bytes the selected layers' factors take, against their dense gradients. */
  readonly memory: { readonly factorBytes: number; readonly denseBytes: number };
  /** Where the prompt or target is not analysed as written (text spelled in byte tokens, a lone-byte first target token). */
  readonly warnings: readonly string[];
}
