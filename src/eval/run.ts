// The evaluation loop: for each record and method, edit, measure every metric of
// SPEC §5, restore, and hand the finished line to the caller (which appends it to
// records.jsonl). Browser-safe: the edit, the generator and the sink come in.
import type { Selected, CounterFactRecord } from '../data/counterfact.ts';
import type { Model } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { probeRecord, recordFluency, type Generator, type ProbeMetrics } from './counterfact.ts';
import type { MethodSpec } from './methods.ts';
import { perplexity } from './score.ts';
import { NonFiniteEditError } from '../edit/changes.ts';

/** Applies an edit method for one record (or a batch of records edited at once), and undoes it. */
export interface Editor {
  /** Returns what the edit reports about itself (steps, size of the change), kept in each record's line. */
  apply(method: Exclude<MethodSpec, { kind: 'original' }>, records: readonly CounterFactRecord[]): Promise<EditInfo | void>;
  restore(): void;
}

/** Records a method edits at once: memit's batch, else 1. */
export const batchOf = (m: MethodSpec): number => (m.kind === 'memit' ? m.batch : 1);

export type EditInfo = Record<string, number | number[]>;

/** One record under one method; the metrics are absent when the edit failed. */
export interface EvalLine extends Partial<ProbeMetrics> {
  index: number;
  case_id: number;
  method: string;
  /** Why the edit failed (its weights overflowed float32): nothing was measured. */
  failed?: string;
  /** Mean weighted 2-/3-gram entropy of the generations (not x100); absent with --no-generation. */
  fluency?: number;
  /** Generated texts, prompt and rephrase prompt first. */
  texts?: string[];
  /** WikiText perplexity of the edited model; absent with --no-perplexity. */
  perplexity?: number;
  /** The edit's own report; absent for the original model. */
  edit?: EditInfo;
  /** Wall-clock milliseconds per stage: where the time goes. */
  ms: { edit: number; probe: number; generation: number; perplexity: number };
}

export interface EvalSettings {
  seed: number;
  generation: boolean;
  /** Tokenized WikiText rows, or undefined to skip perplexity. */
  perplexityTexts?: readonly (readonly number[])[];
  generate: Generator;
}

export const lineKey = (index: number, method: string): string => `${index}\u0000${method}`;

/**
 * Evaluates every (record, method) not in `done`, calling `sink` with each finished
 * line. Records go in groups of the largest batch among the methods (1 without
 * memit batches); within a group each method edits its records one at a time or, for
 * memit with batch=N, N consecutive records at once, and every record of the batch is
 * then measured on the batch-edited model (one perplexity per batch). A batch is
 * edited again whole on resume if any of its lines is missing. The unedited model's
 * perplexity is computed once.
 */
export async function runEvaluation(
  model: Model,
  tokenizer: Tokenizer,
  records: readonly Selected[],
  methods: readonly MethodSpec[],
  editor: Editor,
  settings: EvalSettings,
  done: ReadonlySet<string>,
  sink: (line: EvalLine) => Promise<void>,
): Promise<void> {
  let originalPerplexity: number | undefined;
  const clock = () => performance.now();
  const round = (x: number) => Math.round(x * 10) / 10;
  const group = Math.max(1, ...methods.map(batchOf));
  for (let g = 0; g < records.length; g += group) {
    const chunk = records.slice(g, g + group);
    for (const method of methods) {
      const size = batchOf(method);
      for (let b = 0; b < chunk.length; b += size) {
        const batch = chunk.slice(b, b + size);
        const todo = batch.filter(({ index }) => !done.has(lineKey(index, method.label)));
        if (todo.length === 0) continue;
        const t0 = clock();
        let info: EditInfo | void;
        try {
          info = method.kind === 'original' ? undefined : await editor.apply(method, batch.map((x) => x.record));
        } catch (e) {
          if (!(e instanceof NonFiniteEditError)) throw e;
          editor.restore();
          const ms = { edit: round((clock() - t0) / todo.length), probe: 0, generation: 0, perplexity: 0 };
          for (const { index, record } of todo) await sink({ index, case_id: record.case_id, method: method.label, failed: e.message, ms });
          continue;
        }
        try {
          const editMs = clock() - t0;
          let ppl: number | undefined;
          let pplMs = 0;
          for (const [i, { index, record }] of todo.entries()) {
            const t1 = clock();
            const probe = await probeRecord(model, tokenizer, record);
            const t2 = clock();
            const fl = settings.generation ? await recordFluency(model, tokenizer, record, settings.seed, settings.generate) : undefined;
            const t3 = clock();
            if (settings.perplexityTexts && i === 0) {
              if (method.kind === 'original') originalPerplexity ??= (await perplexity(model, settings.perplexityTexts)).perplexity;
              ppl = method.kind === 'original' ? originalPerplexity : (await perplexity(model, settings.perplexityTexts)).perplexity;
              pplMs = clock() - t3;
            }
            await sink({
              index,
              case_id: record.case_id,
              method: method.label,
              ...probe,
              ...(fl ? { fluency: fl.fluency } : {}),
              ...(ppl === undefined ? {} : { perplexity: ppl }),
              ...(fl ? { texts: fl.texts } : {}),
              ...(info ? { edit: info } : {}),
              // A batch's edit and perplexity are shared: each line carries its share.
              ms: { edit: round(editMs / todo.length), probe: round(t2 - t1), generation: round(t3 - t2), perplexity: round(pplMs / todo.length) },
            });
          }
        } finally {
          if (method.kind !== 'original') editor.restore();
        }
      }
    }
  }
}
