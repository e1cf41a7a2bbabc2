// The public library for browsers (and any platform without Node's file system):
// everything of the Node entry (index.ts) but loading from and saving to paths. A
// model comes in as bytes: loadModelFrom(engine, bytesSource(name, bytes), configJson).
export { getEngine } from './gpu/engine.ts';
export { NoAdapterError } from './gpu/device.ts';
export { GpuError } from './gpu/kernels.ts';
export { loadModelFrom, type LoadedModel } from './model/load.ts';
export { EMBEDDED_MODELS, type EmbeddedModel } from './model/embedded.ts';
export { bytesSource, type ByteSource } from './model/safetensors.ts';
export { Model, hookPoints, type Hook, type Target, type ForwardResult, type Linear } from './model/model.ts';
export { BadModelError, ROLES, type ModelConfig, type Role } from './model/config.ts';
export { gpt2Config, type Gpt2Sizes } from './model/families/gpt2.ts';
export { Gpt2Tokenizer } from './tokenizer/gpt2-bpe.ts';
export { TokenizerError } from './tokenizer/bytes.ts';
export { HfJsonTokenizer, type HfTokenizerFiles } from './tokenizer/hf-json.ts';
export { tokenizerFor, type TokenizerSource } from './tokenizer/tokenizer-for.ts';
export { promptIds, type EncodedPart, type TargetParts, type Tokenizer, type TokenizerKind } from './tokenizer/tokenizer.ts';
export { Tape } from './autograd/tape.ts';
export { LinearFactors } from './autograd/factors.ts';
export { predictNext, nextTokens, type Prediction, type TokenChance, type RankedToken } from './model/next-token.ts';
export { decode, generate, type DecodeOptions, type GenerateOptions } from './model/decode.ts';

export { GradientPass, type PassOptions, type PairOutputs, type PromptTarget } from './pass/pass.ts';
export { analyze, analyzePass, type AnalyzeOptions } from './lens/analyze.ts';
export { BadInputError } from './errors.ts';
export type { TargetTokens } from './pass/prepare.ts';
export type { Analysis, ModuleView, VectorView, Token, TokenProb } from './lens/types.ts';
export type { NeuronOptions, NeuronRequest, NeuronView } from './lens/neurons/types.ts';
export { neuronView } from './lens/neurons/view.ts';
export { factorTensors } from './lens/factor-export.ts';

export { edit, checkSpec } from './edit/edit.ts';
export { EDIT_METHODS, type EditMethod, type EditSpec, type EditPair, type EditResult, type WeightChange } from './edit/types.ts';
export { editDefaults, type EditDefaults } from './edit/defaults.ts';
export { LocatedEditor, type LocatedSpec, type LocatedResult, type MomentSource } from './edit/located/editor.ts';
export { secondMoments, textWindows, tokenWindows, type SecondMoments } from './edit/located/second-moment.ts';
export { Cholesky, romeUpdate, memitUpdate } from './edit/located/closed-form.ts';
export { ROME_VALUE, MEMIT_VALUE, locatedDefaults } from './edit/located/rome-hparams.ts';
export type { FactRequest, ValueHparams } from './edit/located/value-vector.ts';

export { renderTerminal } from './report/terminal.ts';
export { renderJson, report } from './report/json.ts';
export { renderHtml } from './report/html.ts';
