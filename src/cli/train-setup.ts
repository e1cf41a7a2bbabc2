// What `train` builds before the first step, per family: the tokenizer (GPT-2's r50k
// reduced to the training text, or a byte-fallback BPE trained on it for Llama), the
// sentences as the model reads them, the config, and what the finished directory
// carries besides the weights (the reduced vocabulary in the metadata, or
// tokenizer.json and tokenizer_config.json).
import type { CounterFactRecord } from '../data/counterfact.ts';
import { answerToken } from '../data/counterfact.ts';
import type { ModelConfig } from '../model/config.ts';
import { gpt2Config } from '../model/families/gpt2.ts';
import { llama } from '../model/families/llama.ts';
import { Gpt2Tokenizer } from '../tokenizer/gpt2-bpe.ts';
import { HfJsonTokenizer } from '../tokenizer/hf-json.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';
import { recordSentences, reducedVocabulary, trainedText } from '../train/corpus.ts';
import { trainPieceTokenizer } from '../train/piece-bpe.ts';

export type TrainFamily = 'gpt2' | 'llama';

/** The architecture options; the Llama ones (kvHeads, ff, theta, vocab) are unused for GPT-2. */
export interface TrainShape {
  layers: number;
  embd: number;
  heads: number;
  context: number;
  kvHeads: number;
  ff: number;
  theta: number;
  /** Tokens the Llama tokenizer learns from the text before the targets' words are added. */
  vocab: number;
  /** Sentences per trained target token the records' text never holds (see coverSentences). */
  cover: number;
}

export interface TrainSetup {
  config: ModelConfig;
  tokenizer: Tokenizer;
  /** Each sentence as the model reads it: BOS first where the tokenizer adds one. */
  sequences: number[][];
  sentences: string[];
  /** The architecture as the checkpoint's metadata and train-summary.json record it. */
  described: Readonly<Record<string, unknown>>;
  /** Extra safetensors metadata of the finished model. */
  metadata: Record<string, string>;
  /** Extra files of the finished model, by name. */
  files: Record<string, string>;
  /** Target tokens that got fewer than `cover` sentences, and how many they got. */
  short: Map<number, number>;
}

/**
 * `records` are the training records; `targets` every record of the three splits,
 * whose target_new's first token (GPT-2) or first word (Llama) the vocabulary must
 * hold so that an edit towards it is one row of the head; `sources` the records a
 * Llama's cover sentences may come from.
 */
export function trainSetup(family: TrainFamily, shape: TrainShape, records: readonly CounterFactRecord[], targets: readonly CounterFactRecord[], sources: readonly CounterFactRecord[]): TrainSetup {
  const sentences = records.flatMap(recordSentences);
  if (family === 'gpt2') {
    const gpt2 = new Gpt2Tokenizer();
    const vocab = reducedVocabulary(gpt2, sentences, targets.map((r) => answerToken(gpt2, r.prompt, r.target_new)));
    const tokenizer = new Gpt2Tokenizer(vocab);
    const sizes = { nLayer: shape.layers, nHead: shape.heads, nEmbd: shape.embd, nPositions: shape.context, vocabSize: vocab.length, nInner: 4 * shape.embd, eps: 1e-5 };
    const config = gpt2Config(sizes);
    return { config, tokenizer, sequences: sentences.map((s) => tokenizer.encode(s)), sentences, described: sizes, metadata: { vocab: JSON.stringify(vocab) }, files: {}, short: new Map() };
  }
  // The tokenizer learns from the records' sentences alone, so cover sentences change no token.
  const files = trainPieceTokenizer(sentences, { vocabSize: shape.vocab, words: targets.map((r) => r.target_new.split(' ')[0]!) });
  const tokenizer = new HfJsonTokenizer(files);
  const text = trainedText(tokenizer, records, sources, shape.cover, shape.context);
  const config = llama.readConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: shape.embd, intermediate_size: shape.ff, num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads, num_key_value_heads: shape.kvHeads, max_position_embeddings: shape.context, vocab_size: tokenizer.vocabSize,
    rms_norm_eps: 1e-6, rope_theta: shape.theta, tie_word_embeddings: false, bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos,
  }, '--family llama');
  return {
    config, tokenizer, sequences: text.sentences.map((s) => promptIds(tokenizer, s)), sentences: text.sentences, described: llama.writeConfig(config), metadata: {},
    files: { 'tokenizer.json': files.tokenizer, 'tokenizer_config.json': files.config }, short: text.short,
  };
}
