// The study over many records: records are labelled with their segments, checked,
// then analysed in batches (many prompts share one forward and backward pass) and
// folded into the aggregates one by one.
import type { Model } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { analyze, settingsFor } from '../lens/analyze.ts';
import { BadInputError } from '../errors.ts';
import { preparePair } from '../pass/prepare.ts';
import { StudyAccumulator, type Aggregates } from './aggregate.ts';
import type { StudyRecord } from './records.ts';
import { segmentPrompt, type Segmentation } from '../pass/segments.ts';

export interface StudyOptions {
  /** Roles, ff1/ff2 or the checkpoint's module names (analyze's `modules`). */
  modules?: readonly string[];
  normalized?: boolean;
  /** Prompts per pass (default 16). */
  batch?: number;
  /** Called after each batch with the number of records done so far. */
  progress?: (done: number) => void;
  /** Called once per skipped record, before the analysis starts. */
  warn?: (skip: Skipped) => void;
}

export interface Skipped {
  readonly index: number;
  readonly id: number;
  readonly reason: string;
}

export interface StudyOutcome {
  readonly aggregates: Aggregates;
  /** The modules studied (all four unless narrowed), by the checkpoint's names. */
  readonly modules: readonly string[];
  readonly studied: number;
  readonly skipped: readonly Skipped[];
  /** Records whose subject occurs twice or more in the prompt (the last occurrence was used). */
  readonly repeatedSubject: number;
  /**
   * Studied records whose prompt or target the model reads differently from GPT-2
   * (words its reduced vocabulary spells in single bytes, a target starting with a lone
   * byte): their index and analyze's warning. Studied all the same, but counted.
   */
  readonly tokenWarnings: readonly { readonly index: number; readonly warning: string }[];
}

interface Ready {
  record: StudyRecord;
  seg: Segmentation;
  answerId: number | undefined;
}

/** The prompt/target pair a record's gradient comes from; GPT-2 words start with a space. */
export function recordPair(r: StudyRecord): { prompt: string; target: string } {
  return { prompt: r.prompt, target: ` ${r.target}` };
}

export async function runStudy(model: Model, tokenizer: Tokenizer, records: readonly StudyRecord[], opts: StudyOptions = {}): Promise<StudyOutcome> {
  const settings = settingsFor(model, { ...(opts.modules ? { modules: opts.modules } : {}), k: 1, normalized: opts.normalized ?? false, targetTokens: 'first' });
  const ready: Ready[] = [];
  const skipped: Skipped[] = [];
  const tokenWarnings: { index: number; warning: string }[] = [];
  for (const record of records) {
    const skip = (reason: string) => {
      const s = { index: record.index, id: record.id, reason };
      skipped.push(s);
      opts.warn?.(s);
    };
    let ids: number[];
    let warnings: string[];
    try {
      const p = recordPair(record);
      ({ ids, warnings } = preparePair(model, tokenizer, p.prompt, p.target, 'first'));
    } catch (e) {
      if (!(e instanceof BadInputError)) throw e;
      skip(e.message);
      continue;
    }
    const seg = segmentPrompt(tokenizer, record.prompt, ids, record.subject);
    if (!seg) {
      skip(`the subject "${record.subject}" does not occur in the prompt "${record.prompt}"`);
      continue;
    }
    if (warnings.length > 0) tokenWarnings.push({ index: record.index, warning: warnings[0]! });
    ready.push({ record, seg, answerId: safeAnswer(tokenizer, record)[0] });
  }
  if (ready.length === 0) throw new BadInputError(`none of the ${records.length} selected records can be studied (${skipped[0]?.reason ?? 'no records'})`);

  const acc = new StudyAccumulator();
  const batch = opts.batch ?? 16;
  for (let from = 0; from < ready.length; from += batch) {
    const part = ready.slice(from, from + batch);
    const results = await analyze(model, tokenizer, part.map((r) => recordPair(r.record)), settings);
    results.forEach((a, i) => acc.add(a, part[i]!.seg, a.original.id === part[i]!.answerId));
    opts.progress?.(Math.min(from + batch, ready.length));
  }
  return { aggregates: acc.result(), modules: settings.modules, studied: ready.length, skipped, repeatedSubject: ready.filter((r) => r.seg.repeated).length, tokenWarnings };
}

/** The answer's ids as they follow the prompt; none where the vocabulary cannot spell it. */
function safeAnswer(tokenizer: Tokenizer, record: StudyRecord): number[] {
  try {
    return tokenizer.answerIds(record.prompt, record.answer);
  } catch {
    return [];
  }
}
