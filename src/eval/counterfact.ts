// CounterFact metrics of one (possibly edited) model on one record (SPEC §5): top-1
// efficacy / paraphrase / neighborhood, their full-target forms, ROME's probability
// comparisons ES / PS / NS with magnitudes, and n-gram entropy of seeded generations.
// All six teacher-forced continuations of a record share one batched forward pass.
import { answerTokens, type CounterFactRecord } from '../data/counterfact.ts';
import type { Model } from '../model/model.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';
import { fluency } from './fluency.ts';
import { scoreContinuations, type Scored } from './score.ts';

export interface ProbeMetrics {
  /** target_new's first token is top-1 after the prompt (0 or 1). */
  efficacy: number;
  /** ... after the rephrase prompt. */
  paraphrase: number;
  /** locality_ground_truth's first token is top-1 after the locality prompt. */
  neighborhood: number;
  /** Full-target forms: every answer token top-1, teacher-forced (ROME's *_acc). */
  efficacyAll: number;
  paraphraseAll: number;
  neighborhoodAll: number;
  /** [NLL(ground_truth) > NLL(target_new)] after the prompt; NLL = per-token mean. */
  es: number;
  /** The same after the rephrase prompt. */
  ps: number;
  /** [NLL(locality_ground_truth) < NLL(target_new)] after the locality prompt. */
  ns: number;
  /** exp(-NLL_new) - exp(-NLL_true); for NS the other way round. */
  esMagnitude: number;
  psMagnitude: number;
  nsMagnitude: number;
}

export interface FluencyResult {
  /** Mean over the texts of (2/3 H_2 + 4/3 H_3) / 2, not yet x100. */
  fluency: number;
  /** The generated texts, prompt included. */
  texts: string[];
}

const meanOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const flag = (b: boolean): number => (b ? 1 : 0);

/** Scores the record's six continuations and derives every teacher-forced metric. */
export async function probeRecord(model: Model, tokenizer: Tokenizer, r: CounterFactRecord): Promise<ProbeMetrics> {
  const enc = (s: string) => promptIds(tokenizer, s);
  const [newAns, trueAns, locAns] = [answerTokens(tokenizer, r.prompt, r.target_new), answerTokens(tokenizer, r.prompt, r.ground_truth), answerTokens(tokenizer, r.locality_prompt, r.locality_ground_truth)];
  const prompt = enc(r.prompt);
  const rephrase = enc(r.rephrase_prompt);
  const locality = enc(r.locality_prompt);
  const [pNew, pTrue, rNew, rTrue, lNew, lTrue] = (await scoreContinuations(model, [
    { prompt, continuation: newAns },
    { prompt, continuation: trueAns },
    { prompt: rephrase, continuation: newAns },
    { prompt: rephrase, continuation: trueAns },
    { prompt: locality, continuation: newAns },
    { prompt: locality, continuation: locAns },
  ])) as [Scored, Scored, Scored, Scored, Scored, Scored];
  const first = (s: Scored, answer: number[]) => flag(s.top1[0] === answer[0]);
  const all = (s: Scored, answer: number[]) => flag(answer.every((t, i) => s.top1[i] === t));
  const nll = (s: Scored) => meanOf(s.nll);
  const gap = (a: Scored, b: Scored) => Math.exp(-nll(a)) - Math.exp(-nll(b));
  return {
    efficacy: first(pNew, newAns),
    paraphrase: first(rNew, newAns),
    neighborhood: first(lTrue, locAns),
    efficacyAll: all(pNew, newAns),
    paraphraseAll: all(rNew, newAns),
    neighborhoodAll: all(lTrue, locAns),
    es: flag(nll(pTrue) > nll(pNew)),
    ps: flag(nll(rTrue) > nll(rNew)),
    ns: flag(nll(lTrue) < nll(lNew)),
    esMagnitude: gap(pNew, pTrue),
    psMagnitude: gap(rNew, rTrue),
    nsMagnitude: gap(lTrue, lNew),
  };
}

/** A seed for one record's generations from the run's seed and the record's case_id, independent of order. */
export function recordSeed(seed: number, caseId: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(caseId + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** Generates `total` tokens in all (prompt included) per prompt, `length` capped by the context. */
export type Generator = (model: Model, prompts: readonly (readonly number[])[], opts: { newTokens: number[]; topK: number; seed: number }) => Promise<number[][]>;

/** n-gram entropy of top-k 5 generations from the prompt and the rephrase prompt (SPEC §5). */
export async function recordFluency(model: Model, tokenizer: Tokenizer, r: CounterFactRecord, seed: number, generate: Generator, total = 100): Promise<FluencyResult> {
  const length = Math.min(total, model.config.nPositions);
  const prompts = [r.prompt, r.rephrase_prompt].map((p) => promptIds(tokenizer, p).slice(-(length - 1)));
  const added = await generate(model, prompts, { newTokens: prompts.map((p) => length - p.length), topK: 5, seed: recordSeed(seed, r.case_id) });
  const texts = prompts.map((p, i) => tokenizer.decode([...p, ...added[i]!]));
  return { fluency: meanOf(texts.map(fluency)), texts };
}

