// The tokenizer of a family's kind, from what a loader found beside the weights. The
// files come in as text, so the browser's folder picker and Node's loader share it.
import { TokenizerError } from './bytes.ts';
import { Gpt2Tokenizer } from './gpt2-bpe.ts';
import { HfJsonTokenizer } from './hf-json.ts';
import type { Tokenizer, TokenizerKind } from './tokenizer.ts';

export interface TokenizerSource {
  /** tokenizer.json's text (hf-json). */
  readonly tokenizerJson?: string;
  /** tokenizer_config.json's text (hf-json), where the checkpoint has one. */
  readonly tokenizerConfig?: string;
  /** The model's vocab_size: rows above the tokenizer's size stand for no token (hf-json). */
  readonly vocabSize?: number;
  /** GPT-2 ids of a reduced vocabulary (gpt2-bpe). */
  readonly vocab?: readonly number[];
}

export function tokenizerFor(kind: TokenizerKind, source: TokenizerSource = {}): Tokenizer {
  if (kind === 'gpt2-bpe') return new Gpt2Tokenizer(source.vocab);
  if (source.tokenizerJson === undefined) {
    throw new TokenizerError('the checkpoint has no tokenizer.json; put the tokenizer.json (and tokenizer_config.json) that came with the model beside its weights, or pick them with the weights on the page');
  }
  return new HfJsonTokenizer({ tokenizer: source.tokenizerJson, config: source.tokenizerConfig }, source.vocabSize);
}
