// The context prefixes ROME and MEMIT average keys over and optimise values on,
// sampled from the model itself (top-k 5, as their generate_fast does) with a fixed
// seed so that runs repeat. Each is a text put before the prompt; the first is ''.
// ROME (rome/rome_main.py, hparams context_template_length_params [[5, 10], [10, 10]]):
//   10 samples of 5 tokens and 10 of 10 tokens from <|endoftext|>, each + ". ".
// MEMIT (memit/memit_main.py): one sample of 10 tokens from each of "The",
//   "Therefore", "Because", "I", "You", each + ". "; its keys average the plain prompt
//   and the mean of these five as two groups.
// Lengths count the seed token (not BOS), as generate_fast's max_out_len does for GPT-2.
import { generate } from '../../model/decode.ts';
import type { Model } from '../../model/model.ts';
import { leadIds, type Tokenizer } from '../../tokenizer/tokenizer.ts';

async function sample(model: Model, tokenizer: Tokenizer, seeds: readonly number[][], totalTokens: number, seed: number, keepSeed: boolean): Promise<string[]> {
  const added = await generate(model, seeds, { maxNewTokens: totalTokens - 1, topK: 5, seed });
  const lead = leadIds(tokenizer).length;
  // generate_fast turns paragraph breaks into spaces; braces would break its format strings.
  return added.map((ids, i) => `${tokenizer.decode(keepSeed ? [...seeds[i]!.slice(lead), ...ids] : ids).replace(/\n\n/g, ' ').replace(/[{}]/g, ' ')}. `);
}

/** ROME's 21 prefixes: '' then 10 of 5 tokens and 10 of 10 tokens. */
export async function romePrefixes(model: Model, tokenizer: Tokenizer, seed = 0): Promise<string[]> {
  // A vocabulary may lack <|endoftext|> (BOS); then sampling starts from "The" (MEMIT's first seed).
  const start = tokenizer.bos !== undefined ? [tokenizer.bos] : tokenizer.encode('The');
  const keep = tokenizer.bos === undefined;
  const short = await sample(model, tokenizer, Array.from({ length: 10 }, () => start), 5, seed, keep);
  const long = await sample(model, tokenizer, Array.from({ length: 10 }, () => start), 10, seed + 1, keep);
  return ['', ...short, ...long];
}

/** MEMIT's prefixes: '' then one sample of 10 tokens from each seed word. */
export async function memitPrefixes(model: Model, tokenizer: Tokenizer, seed = 0): Promise<string[]> {
  // As MEMIT's tokenizer call: BOS first where the tokenizer adds one (decoded without it).
  const seeds = ['The', 'Therefore', 'Because', 'I', 'You'].map((w) => [...leadIds(tokenizer), ...tokenizer.encode(w)]);
  return ['', ...(await sample(model, tokenizer, seeds, 10, seed, true))];
}
