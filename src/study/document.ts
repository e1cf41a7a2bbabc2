// study.json: the study's aggregates with what produced them. docs/cli/study.md documents it.
import type { ExcludedRows } from '../lens/types.ts';
import type { ModelSizes } from '../model/config.ts';
import type { Aggregates } from './aggregate.ts';
import type { Layout } from './records.ts';
import type { Skipped } from './run.ts';
import { SEGMENTS } from '../pass/segments.ts';

export interface StudyDocument {
  readonly version: 1;
  readonly model: { readonly source: string } & ModelSizes;
  readonly data: {
    readonly file: string;
    readonly layout: Layout;
    readonly records: string;
    readonly selected: number;
    readonly studied: number;
    readonly skipped: readonly Skipped[];
    readonly repeatedSubject: number;
    /** Studied records with tokenization warnings (see StudyOutcome.tokenWarnings); absent in older documents. */
    readonly tokenWarnings?: number;
  };
  /** `excluded`: as an analysis's settings (rows no rank counts); absent when none is. */
  readonly settings: { readonly modules: readonly string[]; readonly normalized: boolean; readonly batch: number; readonly excluded?: ExcludedRows };
  readonly segments: readonly string[];
  readonly aggregates: Aggregates;
  readonly seconds: number;
}

export function studyDocument(parts: Omit<StudyDocument, 'version' | 'segments'>): StudyDocument {
  return { version: 1, ...parts, segments: [...SEGMENTS] };
}
