// What an edit is asked to do and what it did. An edit changes named weight
// matrices in place through Model.editable(), so model.restore() undoes it exactly.
import type { TargetTokens } from '../pass/prepare.ts';

export const EDIT_METHODS = ['shift', 'sgd', 'adam'] as const;
export type EditMethod = (typeof EDIT_METHODS)[number];

export interface EditSpec {
  method: EditMethod;
  /** Layers to edit, each in 0..nLayer-1. */
  layers: readonly number[];
  /** eta: required for shift and sgd; adam defaults to MEMIT's 5e-4. */
  lr?: number;
  /**
   * shift: at most this many forward passes, each followed by a shift of the pairs
   * whose target is not yet top-1 (default 1); sgd: steps (default 1); adam: at
   * most this many steps, stopping once the loss is below 1e-2 (default 25).
   */
  steps?: number;
  /**
   * sgd only: the linear modules to update (default ff_out, FF2), as analyze takes
   * them: a role (all its stored modules), ff1/ff2, or one stored module by the
   * checkpoint's name (self_attn.k_proj: its rows of the joined q|k|v alone). shift
   * and adam edit ff_out.
   */
  modules?: readonly string[];
  /** sgd and adam: the loss is the NLL of the target's first token, or of every target token teacher-forced. */
  targetTokens?: TargetTokens;
}

/** One edit: after `prompt` the model should say `target` (GPT-2 words start with a space: " Paris"). */
export interface EditPair {
  prompt: string;
  target: string;
}

export interface WeightChange {
  /** The checkpoint's tensor name of the parameter. */
  name: string;
  /** Frobenius norm of (current - original) in float64. */
  norm: number;
  /** Frobenius norm of the original. */
  originalNorm: number;
}

export interface EditResult {
  spec: Required<Pick<EditSpec, 'method' | 'lr' | 'steps'>> & {
    layers: number[];
    /** The edited modules by the checkpoint's names. */
    modules: string[];
    targetTokens: TargetTokens;
  };
  /** Forward passes (shift) or optimiser steps (sgd, adam) actually run. */
  steps: number;
  /** sgd, adam: the loss before each step (sum of NLLs for sgd; MEMIT's mean NLL for adam); adam's run that stops below 1e-2 ends with the loss it did not step on. */
  losses: number[];
  /** shift: per pair, how many times it was shifted (0: its target already was the top-1 token). */
  shifts: number[];
  /** Every parameter changed since load or the last restore(), with the size of its change. */
  changes: WeightChange[];
}
