// What a model family contributes: its config.json read into ModelConfig (and written
// back), its checkpoint's tensor names mapped to the canonical ones (and back, for
// writing an edited model), its tokenizer, and the names its linear modules go by.
import type { TokenizerKind } from '../../tokenizer/tokenizer.ts';
import type { ModelConfig, Role } from '../config.ts';

export interface Family {
  /** Registry key, stored in ModelConfig.family. */
  readonly name: string;
  /** For messages, e.g. "GPT-2". */
  readonly displayName: string;
  /** config.json `model_type` values and `architectures` entries this family reads. */
  readonly modelTypes: readonly string[];
  readonly architectures: readonly string[];
  readonly tokenizer: TokenizerKind;
  readConfig(json: Readonly<Record<string, unknown>>, file: string): ModelConfig;
  writeConfig(c: ModelConfig): Record<string, unknown>;
  /**
   * A stored tensor's canonical parameter name; null for buffers that are not
   * parameters (masks); undefined for a name the family does not know.
   */
  canonical(stored: string): string | null | undefined;
  /** The checkpoint's name for a canonical parameter (without any stored prefix); a fused one's parts in braces. */
  checkpointName(canonical: string): string;
  /**
   * The stored tensors a canonical parameter is concatenated from along their first
   * dimension, in order (Llama's q_proj, k_proj, v_proj make attn_in); one name for
   * a parameter stored whole.
   */
  parts(canonical: string): readonly string[];
  /**
   * The checkpoint's name of each role's module inside a block, e.g. mlp.c_proj; a
   * role joined from several stored modules is written with their parts in braces
   * (mlp.{gate,up}_proj), as checkpointName writes its tensor.
   */
  readonly modules: Readonly<Record<Role, string>>;
  /**
   * The stored modules a role is made of, one per block of its output (config.ts:
   * outputBlocks) in that order, or one for a module stored whole (GPT-2's c_attn).
   * Analyses and factor exports report each of them.
   */
  readonly moduleParts: Readonly<Record<Role, readonly string[]>>;
  /** The module the paper calls FF1: a gated MLP's up_proj, since gate_proj reads the same x_i (the paper's SwiGLU footnote). */
  readonly ff1: string;
  /** A block module's full checkpoint name without `.weight`, e.g. h.5.mlp.c_proj. */
  blockName(layer: number, module: string): string;
  /** A role's full checkpoint name (blockName of modules[role]): its factors are recorded under it. */
  linearName(layer: number, role: Role): string;
}
