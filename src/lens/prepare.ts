// Prompt + target text -> the token sequence and loss positions of §3.2: the NLL of
// the target's first token at the last prompt position, or with `all`, the
// teacher-forced sum over every target token.
import type { Gpt2 } from '../model/gpt2.ts';
import type { Target } from '../model/gpt2.ts';
import type { Tokenizer } from '../tokenizer.ts';

export class BadInputError extends Error {
  override name = 'BadInputError';
}

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
}

export function preparePair(model: Gpt2, tokenizer: Tokenizer, prompt: string, target: string, mode: TargetTokens = 'first'): PreparedPair {
  if (prompt.length === 0) throw new BadInputError('the prompt is empty: pass --prompt "some text"');
  if (target.length === 0) throw new BadInputError('the target is empty: pass --target " word" (GPT-2 words usually start with a space)');
  const promptIds = encode(tokenizer, prompt, 'prompt');
  const targetIds = encode(tokenizer, target, 'target');
  const ids = mode === 'all' ? [...promptIds, ...targetIds.slice(0, -1)] : promptIds;
  const context = model.config.nPositions;
  if (ids.length > context) throw new BadInputError(`the prompt${mode === 'all' ? ' and target' : ''} take ${ids.length} tokens but the model's context is ${context}; shorten the prompt`);
  const n = promptIds.length;
  const used = mode === 'all' ? targetIds : targetIds.slice(0, 1);
  return { prompt, target, ids, promptLength: n, targetIds, targets: used.map((token, j) => ({ seq: 0, position: n - 1 + j, token })) };
}

function encode(tokenizer: Tokenizer, text: string, what: string): number[] {
  try {
    const ids = tokenizer.encode(text);
    if (ids.length === 0) throw new BadInputError(`the ${what} encodes to no tokens`);
    return ids;
  } catch (e) {
    if (e instanceof BadInputError) throw e;
    throw new BadInputError(`the ${what} cannot be encoded by this model's vocabulary: ${(e as Error).message}`);
  }
}
