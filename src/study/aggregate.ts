// The study's aggregates (paper §6, App. E), accumulated one analysed prompt at a
// time so that any number of records fits in memory. Segment values follow ROME's
// averages: a prompt's value for a segment is the mean over its tokens there, and
// the figures show the mean (and median) of those over prompts.
import type { Analysis, ModuleView } from '../lens/types.ts';
import { paperRole } from '../model/families/index.ts';
import { SEGMENTS, type Segment, type Segmentation } from '../pass/segments.ts';
import { mean, Samples, type Summary } from './stats.ts';

export type BySegment = Record<Segment, Summary>;

export interface RankRow {
  readonly layer: number;
  readonly prompts: number;
  /** Prompts whose gradient rank equals n, the prompt length (Fig. 4). */
  readonly equalN: number;
  readonly share: number;
  /** rank − n → number of prompts. */
  readonly minusN: Readonly<Record<string, number>>;
}

export interface SegmentRow {
  readonly layer: number;
  readonly segments: BySegment;
}

export type Answered = 'all' | 'correct' | 'incorrect';

export interface LastTokenRow {
  readonly layer: number;
  /** Fig. 19: the original answer's rank from the bottom in LL(δ_n) of FF2. */
  readonly ff2DeltaOriginal: Record<Answered, Summary>;
  /** Fig. 20: the original answer's rank from the top in LL(x_n) of FF1. */
  readonly ff1XOriginal: Record<Answered, Summary>;
  /** Fig. 21: the target's rank from the top in LL(x_n) of FF1. */
  readonly ff1XTarget: Record<Answered, Summary>;
  /** Fig. 18: the target's rank from the bottom in LL(δ_n) of FF2. */
  readonly ff2DeltaTarget: Record<Answered, Summary>;
}

export interface Aggregates {
  readonly prompts: number;
  /** Prompts whose top-1 next token was the first token of the true answer. */
  readonly correct: number;
  /** Keyed by the checkpoint's module names. */
  readonly rank: Readonly<Partial<Record<string, RankRow[]>>>;
  readonly deltaNorm: Readonly<Partial<Record<string, SegmentRow[]>>>;
  readonly xNorm: Readonly<Partial<Record<string, SegmentRow[]>>>;
  /**
   * Fig. 7: the target's rank from the bottom in LL(δ_i), for the modules whose δ
   * is d-dimensional. δ_i of norm exactly 0 (the last layer's, i < n) are left
   * out: the lens of the zero vector says nothing about the update.
   */
  readonly targetRank: Readonly<Partial<Record<string, SegmentRow[]>>>;
  /** Figs. 18-21; present when both MLP modules were studied. */
  readonly lastToken?: readonly LastTokenRow[];
}

export class StudyAccumulator {
  private readonly samples = new Samples();
  private readonly ranks = new Map<string, number[]>();
  private prompts = 0;
  private correct = 0;
  private layers: number[] = [];
  private modules: string[] = [];
  private hasMlp = false;

  /** One prompt's analysis; `correct`: whether the model's own answer was the true one. */
  add(a: Analysis, seg: Segmentation, correct: boolean): void {
    this.prompts++;
    if (correct) this.correct++;
    this.layers = [...a.settings.layers];
    this.modules = [...a.settings.modules];
    const n = a.tokens.length;
    const answered: Answered[] = ['all', correct ? 'correct' : 'incorrect'];
    for (const { layer, modules } of a.layers) {
      for (const m of modules) {
        const key = `${m.module}.${layer}`;
        let list = this.ranks.get(key);
        if (!list) this.ranks.set(key, (list = []));
        list.push(m.rank - n);
        this.bySegment(`dnorm.${key}`, seg, (i) => m.delta[i]!.norm);
        this.bySegment(`xnorm.${key}`, seg, (i) => m.x[i]!.norm);
        if (m.delta[0]?.targetRank !== undefined) this.bySegment(`trank.${key}`, seg, (i) => (m.delta[i]!.norm > 0 ? m.delta[i]!.targetRank : undefined));
      }
      const ff1 = modules.find((m) => paperRole(m.module) === 'ff_in');
      const ff2 = modules.find((m) => paperRole(m.module) === 'ff_out');
      this.hasMlp = Boolean(ff1 && ff2);
      if (ff1 && ff2) {
        for (const g of answered) {
          this.lastToken(`ff2DeltaOriginal.${layer}.${g}`, ff2, n, 'delta', 'originalRank');
          this.lastToken(`ff1XOriginal.${layer}.${g}`, ff1, n, 'x', 'originalRank');
          this.lastToken(`ff1XTarget.${layer}.${g}`, ff1, n, 'x', 'targetRank');
          this.lastToken(`ff2DeltaTarget.${layer}.${g}`, ff2, n, 'delta', 'targetRank');
        }
      }
    }
  }

  private bySegment(key: string, seg: Segmentation, value: (i: number) => number | undefined): void {
    for (const s of SEGMENTS) {
      const vs = seg.labels.flatMap((l, i) => (l.includes(s) ? [value(i)] : [])).filter((v): v is number => v !== undefined);
      if (vs.length) this.samples.add(`${key}.${s}`, mean(vs));
    }
  }

  private lastToken(key: string, m: ModuleView, n: number, vector: 'x' | 'delta', rank: 'originalRank' | 'targetRank'): void {
    const v = m[vector][n - 1]!;
    if (v[rank] !== undefined && v.norm > 0) this.samples.add(key, v[rank]);
  }

  result(): Aggregates {
    const perModule = <T>(f: (m: string) => T[] | undefined) =>
      Object.fromEntries(this.modules.flatMap((m) => {
        const rows = f(m);
        return rows ? [[m, rows]] : [];
      }));
    const segRows = (prefix: string, m: string): SegmentRow[] =>
      this.layers.map((layer) => ({ layer, segments: Object.fromEntries(SEGMENTS.map((s) => [s, this.samples.summary(`${prefix}.${m}.${layer}.${s}`)])) as BySegment }));
    const groups = (key: string) => Object.fromEntries((['all', 'correct', 'incorrect'] as const).map((g) => [g, this.samples.summary(`${key}.${g}`)])) as Record<Answered, Summary>;
    return {
      prompts: this.prompts,
      correct: this.correct,
      rank: perModule((m) => this.layers.map((layer) => rankRow(layer, this.ranks.get(`${m}.${layer}`) ?? []))),
      deltaNorm: perModule((m) => segRows('dnorm', m)),
      xNorm: perModule((m) => segRows('xnorm', m)),
      targetRank: perModule((m) => {
        const rows = segRows('trank', m);
        return rows.some((r) => Object.values(r.segments).some((s) => s.count > 0)) ? rows : undefined;
      }),
      ...(this.hasMlp
        ? {
            lastToken: this.layers.map((layer) => ({
              layer,
              ff2DeltaOriginal: groups(`ff2DeltaOriginal.${layer}`),
              ff1XOriginal: groups(`ff1XOriginal.${layer}`),
              ff1XTarget: groups(`ff1XTarget.${layer}`),
              ff2DeltaTarget: groups(`ff2DeltaTarget.${layer}`),
            })),
          }
        : {}),
    };
  }
}

function rankRow(layer: number, diffs: readonly number[]): RankRow {
  const minusN: Record<string, number> = {};
  for (const d of [...diffs].sort((a, b) => a - b)) minusN[String(d)] = (minusN[String(d)] ?? 0) + 1;
  const equalN = minusN['0'] ?? 0;
  return { layer, prompts: diffs.length, equalN, share: diffs.length ? equalN / diffs.length : 0, minusN };
}
