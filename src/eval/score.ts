// Teacher-forced scoring: per-token NLL and the top-1 token at every position of a
// continuation after its prompt, and the perplexity of texts. Batched by a budget of
// logits rows, since the [rows, V] logits dominate memory (V = 50,257 for GPT-2).
import { Tape } from '../autograd/tape.ts';
import { readAll } from '../gpu/buffers.ts';
import type { Model, Target } from '../model/model.ts';
import { leadIds, type Tokenizer } from '../tokenizer/tokenizer.ts';
import { topk } from '../gpu/vocab.ts';

export interface ScoreItem {
  prompt: readonly number[];
  continuation: readonly number[];
}

export interface Scored {
  /** NLL (nats) of each continuation token given everything before it. */
  nll: number[];
  /** The model's top-1 token at each of those positions (empty where not asked for). */
  top1: number[];
}

/** Largest logits matrix one batch may make, in floats (64 MB). */
const LOGIT_BUDGET = 16 * 1024 * 1024;

interface Row {
  tokens: number[];
  /** Positions whose next token is scored, with that token. */
  targets: { position: number; token: number }[];
}

/** Runs rows in batches; returns each row's NLL and top-1 id per target, in order. */
async function runRows(model: Model, rows: readonly Row[], withTop1 = true): Promise<Scored[]> {
  const V = model.config.vocabSize;
  const out: Scored[] = [];
  for (let start = 0; start < rows.length; ) {
    let end = start;
    let targets = 0;
    while (end < rows.length && (end === start || (targets + rows[end]!.targets.length) * V <= LOGIT_BUDGET)) targets += rows[end++]!.targets.length;
    out.push(...(await runBatch(model, rows.slice(start, end), withTop1)));
    start = end;
  }
  return out;
}

async function runBatch(model: Model, rows: readonly Row[], withTop1: boolean): Promise<Scored[]> {
  const targets: Target[] = rows.flatMap((r, seq) => r.targets.map((t) => ({ seq, ...t })));
  if (targets.length === 0) return rows.map(() => ({ nll: [], top1: [] }));
  const tape = new Tape(model.k);
  try {
    const { logits, loss } = model.forward(tape, rows.map((r) => r.tokens), targets);
    const best = withTop1 ? topk(model.k, logits, 1, 'top') : undefined;
    if (best) {
      tape.own(best.ids);
      tape.own(best.scores);
    }
    const [nll, ids] = await readAll(model.k, best ? [loss, best.ids] : [loss]);
    let at = 0;
    return rows.map((r) => {
      const n = r.targets.length;
      const s = { nll: Array.from(nll!.subarray(at, at + n)), top1: ids ? Array.from(ids.subarray(at, at + n)) : [] };
      at += n;
      return s;
    });
  } finally {
    tape.dispose();
  }
}

/**
 * Scores each continuation after its prompt. A prompt that would push the sequence
 * past the context loses its first tokens; an empty continuation scores nothing.
 */
export async function scoreContinuations(model: Model, items: readonly ScoreItem[]): Promise<Scored[]> {
  const context = model.config.nPositions;
  const rows = items.map((it): Row => {
    if (it.prompt.length === 0) throw new RangeError('cannot score a continuation after an empty prompt');
    if (it.continuation.length >= context) throw new RangeError(`a continuation of ${it.continuation.length} tokens does not fit the context of ${context}`);
    const tokens = [...it.prompt, ...it.continuation].slice(-context);
    const first = tokens.length - it.continuation.length - 1;
    return { tokens, targets: it.continuation.map((token, i) => ({ position: first + i, token })) };
  });
  return runRows(model, rows);
}

export interface Perplexity {
  perplexity: number;
  /** Mean NLL (nats) over all predicted tokens. */
  meanNll: number;
  /** How many tokens were predicted. */
  tokens: number;
}

/** Perplexity texts as the model reads any text (BOS first where the tokenizer adds one), cut to `maxTokens`. */
export function perplexityIds(tokenizer: Tokenizer, rows: readonly string[], maxTokens = 256): number[][] {
  const lead = leadIds(tokenizer);
  return rows.map((t) => [...lead, ...tokenizer.encode(t)].slice(0, maxTokens));
}

/**
 * exp(mean NLL) over every predicted token of the texts, each cut to its first
 * `maxTokens` tokens (and the model's context). Sums in float64.
 */
export async function perplexity(model: Model, texts: readonly (readonly number[])[], maxTokens = 256): Promise<Perplexity> {
  const limit = Math.min(maxTokens, model.config.nPositions);
  const rows = texts
    .map((t) => t.slice(0, limit))
    .filter((t) => t.length >= 2)
    .map((tokens): Row => ({ tokens, targets: tokens.slice(1).map((token, position) => ({ position, token })) }));
  if (rows.length === 0) throw new RangeError('perplexity needs at least one text of two or more tokens');
  const scored = await runRows(model, rows, false);
  let sum = 0;
  let count = 0;
  for (const s of scored) for (const x of s.nll) {
    sum += x;
    count++;
  }
  const meanNll = sum / count;
  return { perplexity: Math.exp(meanNll), meanNll, tokens: count };
}
