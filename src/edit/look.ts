// What the model says after each prompt, for showing an edit's effect: the next-token
// top-5, the target's rank and probability, and a greedy continuation. The CLI's
// edit command and the web app's edit panel both show exactly this.
import { generate } from '../model/decode.ts';
import type { Model } from '../model/model.ts';
import { predictNext, type Prediction } from '../model/next-token.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';

export interface Side {
  top: Prediction['top'];
  target: NonNullable<Prediction['watched']>;
  continuation: string;
}

/** Top-5, the target's rank and probability, and a greedy continuation of `tokens` tokens (0: none) per pair. */
export async function look(model: Model, tokenizer: Tokenizer, pairs: readonly { prompt: string; target: string }[], tokens: number): Promise<Side[]> {
  const prompts = pairs.map((p) => promptIds(tokenizer, p.prompt));
  const predictions = await predictNext(model, tokenizer, prompts, 5, pairs.map((p) => tokenizer.targetParts(p.prompt, p.target).parts[0]?.ids[0]));
  const continuations = tokens > 0 ? await generate(model, prompts, { maxNewTokens: tokens }) : prompts.map(() => []);
  return predictions.map((p, i) => ({ top: p.top, target: p.watched!, continuation: tokenizer.decode(continuations[i]!) }));
}
