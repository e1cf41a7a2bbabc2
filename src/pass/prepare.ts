// Prompt + target text -> the token sequence and loss positions of §3.2: the NLL of
// the target's first token at the last prompt position, or with `all`, the
// teacher-forced sum over every target token.
import type { Model } from '../model/model.ts';
import type { Target } from '../model/model.ts';
import { BadInputError } from '../errors.ts';
import type { EncodedPart, Tokenizer } from '../tokenizer/tokenizer.ts';

export type TargetTokens = 'first' | 'all';

export interface PreparedPair {
  prompt: string;
  target: string;
  /** Token ids the model runs on: the prompt, plus target tokens but the last with `all`. */
  ids: number[];
  /** Number of prompt tokens n; factor rows 0..n-1 are the prompt's. */
  promptLength: number;
  /** The target's token ids (all of them). */
  targetIds: number[];
  /** Loss positions for the model, sequence index 0. */
  targets: Target[];
  /** Where the text is not analysed as written (byte fallback, a lone-byte first target token, a target cut across the prompt's end); empty when it is. */
  warnings: string[];
}

export function preparePair(model: Model, tokenizer: Tokenizer, prompt: string, target: string, mode: TargetTokens = 'first'): PreparedPair {
  // Library callers reach here with whatever they pass: say so instead of a TypeError.
  for (const [what, text] of [['prompt', prompt], ['target', target]] as const) {
    if (typeof text !== 'string') throw new BadInputError(`the ${what} must be a string, got ${text === null ? 'null' : typeof text}`);
  }
  if (prompt.length === 0) throw new BadInputError('the prompt is empty', 'prompt');
  if (target.length === 0) throw new BadInputError('the target is empty', 'target');
  const promptParts = nonEmpty(encoded(() => tokenizer.promptParts(prompt), 'prompt'), 'prompt');
  const follow = encoded(() => tokenizer.targetParts(prompt, target), 'target');
  const targetParts = nonEmpty(follow.parts, 'target');
  const promptIds = promptParts.flatMap((p) => p.ids);
  const targetIds = targetParts.flatMap((p) => p.ids);
  const ids = mode === 'all' ? [...promptIds, ...targetIds.slice(0, -1)] : promptIds;
  const context = model.config.nPositions;
  if (ids.length > context) throw new BadInputError(`${mode === 'all' ? 'the prompt and target take' : 'the prompt takes'} ${ids.length} tokens but the model's context is ${context}; shorten the prompt`);
  const n = promptIds.length;
  const used = mode === 'all' ? targetIds : targetIds.slice(0, 1);
  const warnings = [...fallbackWarning(tokenizer, promptParts, prompt, 'prompt'), ...fallbackWarning(tokenizer, targetParts, target, 'target'), ...(follow.warning ? [follow.warning] : [])];
  const first = tokenizer.tokenBytes(targetIds[0]!);
  const blank = first.every(isSpace);
  if (blank || (targetIds.length > 1 && first.length === 1)) {
    warnings.push(`the target ${JSON.stringify(target)} starts with the token "${tokenizer.tokenText(targetIds[0]!)}", ${blank ? 'bare whitespace' : 'a single byte'}; the loss and ranks${mode === 'all' ? ' start with it' : ' use only it'} (a leading space usually helps: " Paris")`);
  }
  return { prompt, target, ids, promptLength: n, targetIds, targets: used.map((token, j) => ({ seq: 0, position: n - 1 + j, token })), warnings };
}

const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/** The words the reduced vocabulary lacks, and the tokens the text became. */
function fallbackWarning(tokenizer: Tokenizer, parts: readonly EncodedPart[], text: string, what: string): string[] {
  const spelled = parts.filter((p) => p.spelled);
  if (spelled.length === 0) return [];
  const quoted = (ids: readonly number[]) => ids.map((id) => `"${tokenizer.tokenText(id)}"`).join(' ');
  const missing = spelled.map((p) => `"${p.text}"`).join(', ');
  return [`the ${what} ${JSON.stringify(text)} has GPT-2 tokens this model's vocabulary lacks (${missing}), spelled in single bytes: it runs as ${quoted(parts.flatMap((p) => p.ids))}`];
}

function encoded<T>(run: () => T, what: 'prompt' | 'target'): T {
  try {
    return run();
  } catch (e) {
    throw new BadInputError(`the ${what} cannot be encoded by this model's vocabulary: ${(e as Error).message}`);
  }
}

function nonEmpty(parts: EncodedPart[], what: 'prompt' | 'target'): EncodedPart[] {
  if (parts.length === 0) throw new BadInputError(`the ${what} encodes to no tokens`, what);
  return parts;
}
