// ROME and MEMIT behind one object for the commands: it keeps what every edit at a
// layer shares (the Cholesky factor of C, the context prefixes sampled from the
// unedited model) and writes the updates through model.editable, so model.restore()
// undoes them exactly like every other edit.
import type { Model } from '../../model/model.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { weightChanges } from '../changes.ts';
import { Cholesky } from './closed-form.ts';
import { memitPrefixes, romePrefixes } from './context-templates.ts';
import { memit } from './memit.ts';
import { MEMIT_VALUE, ROME_VALUE } from './rome-hparams.ts';
import { rome } from './rome.ts';
import type { WeightChange } from '../types.ts';
import { checkEditReaches, type FactRequest, type ValueHparams } from './value-vector.ts';

export interface LocatedSpec {
  method: 'rome' | 'memit';
  /** rome: exactly one layer; memit: the range (sorted). */
  layers: readonly number[];
  /** MEMIT's mom2_update_weight. */
  lambda: number;
  /** The value search; default ROME's or MEMIT's. */
  value?: ValueHparams;
}

export interface LocatedResult {
  /** Per request, the value search's loss at each step. */
  losses: number[][];
  changes: WeightChange[];
}

/** C = E[k kᵀ] of FF2's input at a layer, row-major [f, f]. */
export type MomentSource = (layer: number) => Promise<ArrayLike<number>>;

export class LocatedEditor {
  private readonly factors = new Map<number, Promise<Cholesky>>();
  private readonly prefixes = new Map<string, Promise<string[]>>();

  /** `prefixes` replaces the sampled context prefixes (tests; each list starts with ''). */
  constructor(readonly model: Model, readonly tokenizer: Tokenizer, private readonly moments: MomentSource, readonly seed = 0, prefixes?: { rome: string[]; memit: string[] }) {
    if (prefixes) for (const [m, p] of Object.entries(prefixes)) this.prefixes.set(m, Promise.resolve(p));
  }

  private moment(layer: number): Promise<Cholesky> {
    let c = this.factors.get(layer);
    if (!c) {
      c = this.moments(layer).then((m) => Cholesky.factor(m, this.model.config.nInner, `the second moment of FF2's input at layer ${layer}`));
      this.factors.set(layer, c);
    }
    return c;
  }

  /** The method's prefixes; sampled once, so call before the first edit changes the model. */
  contexts(method: 'rome' | 'memit'): Promise<string[]> {
    let p = this.prefixes.get(method);
    if (!p) {
      if (this.model.edited.length > 0) throw new Error('context prefixes must be sampled from the unedited model: restore it first');
      p = method === 'rome' ? romePrefixes(this.model, this.tokenizer, this.seed) : memitPrefixes(this.model, this.tokenizer, this.seed);
      this.prefixes.set(method, p);
    }
    return p;
  }

  /** Samples the method's prefixes and factors C at its layers (each once per editor), returning the prefixes; apply() does it first anyway. */
  async prepare(spec: Pick<LocatedSpec, 'method' | 'layers'>): Promise<string[]> {
    const prefixes = await this.contexts(spec.method);
    // Factor every needed C before the first weight changes (a singular one fails with nothing edited).
    await Promise.all(spec.layers.map((l) => this.moment(l)));
    return prefixes;
  }

  async apply(spec: LocatedSpec, requests: readonly FactRequest[]): Promise<LocatedResult> {
    for (const r of requests) checkEditReaches(this.tokenizer, r.prompt, r.subject, Math.max(...spec.layers), this.model.config.nLayer);
    const prefixes = await this.prepare(spec);
    const out = spec.method === 'rome'
      ? await rome(this.model, this.tokenizer, requests, spec.layers[0]!, await this.moment(spec.layers[0]!), prefixes, spec.value ?? ROME_VALUE)
      : await memit(this.model, this.tokenizer, requests, spec.layers, (l) => this.moment(l), spec.lambda, prefixes, spec.value ?? MEMIT_VALUE);
    return { losses: out.losses, changes: await weightChanges(this.model) };
  }
}
