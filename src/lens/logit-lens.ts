// Logit lens LL(v) = softmax(norm_final(v) . D) (paper Eq. 7) of many d-dimensional vectors
// at once: the final norm on the GPU, then the fused lens kernels (gpu/lens.ts) stream the
// vocabulary once for hundreds of rows. Only k ids, k scores, a log-sum-exp and a
// few ranks per vector come back.
import { Tape } from '../autograd/tape.ts';
import { readAll, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import type { Model } from '../model/model.ts';
import { decodeLens, lens, type IdScore } from '../gpu/lens.ts';
import { normalizeRows } from '../gpu/rows.ts';
import { lensOnCpu, lensWasm } from './lens-wasm.ts';
import type { Tensor } from '../tensor.ts';
import type { LensExclusion } from '../tokenizer/tokenizer.ts';
import type { ExcludedRows } from './types.ts';

export interface LensOptions {
  /** How many most and least probable tokens to keep. */
  k: number;
  /** Apply the lens to v / |v| (paper App. F): removes the final norm's epsilon artefact on small vectors. */
  normalized: boolean;
  /** Ids, ascending, that the lists and ranks leave out (Tokenizer.lensExcluded); probabilities stay the softmax over every row. */
  excluded?: readonly number[];
  /** Project on the CPU in WebAssembly (lens-wasm.ts) instead of the lens kernel; default: lensOnCpu's choice. */
  cpu?: boolean;
}

export interface IdProb {
  id: number;
  prob: number;
}

export interface Projection {
  top: IdProb[];
  bottom: IdProb[];
  /** 1-based rank of each watched id counted from the most probable ... */
  rankFromTop: number[];
  /** ... and from the least probable. */
  rankFromBottom: number[];
}

/**
 * Rows per pass: the fused lens keeps no [rows, vocabulary] buffer, so this only
 * bounds the partial results and the one readback of a pass.
 */
const PASS_ROWS = 2048;

/**
 * Vectors to project that are not one tensor: `copy` writes rows [start, start + rows)
 * into `into` [rows, d], so each pass gathers its own rows and no [m, d] copy of all
 * of them is ever made.
 */
export interface LensRows {
  rows: number;
  copy(into: Tensor, start: number, rows: number): void;
}

/**
 * Projects every row of `vectors` [m, d]. `watched` ids (the target, the original
 * answer) get their ranks in each row's distribution.
 */
export async function logitLens(model: Model, vectors: Tensor | LensRows, opts: LensOptions, watched: readonly number[]): Promise<Projection[]> {
  const k = model.k;
  const d = model.config.nEmbd;
  const source = 'copy' in vectors ? vectors : tensorRows(k, vectors, d);
  const out: Projection[] = [];
  const passRows = Math.max(1, Math.min(PASS_ROWS, Math.floor(k.bindLimit / (d * 4))));
  for (let start = 0; start < source.rows; start += passRows) {
    const rows = Math.min(passRows, source.rows - start);
    const tape = new Tape(k);
    try {
      const h = normedRows(model, tape, source, start, rows, opts.normalized);
      const data = (opts.cpu ?? lensOnCpu(k, model.unembedding())) ? await lensWasm(k, h, model.unembedding(), opts.k, watched, opts.excluded, { release: () => tape.dispose() }) : ((await readAll(k, [tape.own(lens(k, h, model.unembedding(), opts.k, watched, opts.excluded))]))[0] as Float32Array);
      for (const row of decodeLens(data, rows, opts.k, watched.length)) {
        const probs = (list: IdScore[]) => list.map(({ id, score }) => ({ id, prob: Math.exp(score - row.lse) }));
        out.push({
          top: probs(row.top),
          bottom: probs(row.bottom),
          rankFromTop: row.rankFromTop.map((r) => r + 1),
          rankFromBottom: row.rankFromBottom.map((r) => r + 1),
        });
      }
    } finally {
      tape.dispose();
    }
  }
  return out;
}

/**
 * Rows [start, start + rows) of `source` through the final norm. The gathered rows go
 * as soon as the norm is recorded, not with the pass's results: 7 MB less while the
 * lens runs and the ranks read the factors (1,700 rows of gpt2-medium).
 */
function normedRows(model: Model, tape: Tape, source: LensRows, start: number, rows: number, normalized: boolean): Tensor {
  const k = model.k;
  const chunk = zeros(k, [rows, model.config.nEmbd], 'f32', 'lens.chunk');
  try {
    source.copy(chunk, start, rows);
    const input = normalized ? normalizeRows(k, chunk) : chunk;
    try {
      return model.finalNorm(tape, input);
    } finally {
      if (input !== chunk) input.dispose();
    }
  } finally {
    chunk.dispose();
  }
}

/** The `excluded` setting a report carries: none where the lens leaves no row out, so GPT-2's reports are as before. */
export function excludedSetting(ex: LensExclusion): { excluded?: ExcludedRows } {
  return ex.ids.length ? { excluded: { count: ex.ids.length, padded: ex.padded, special: ex.special } } : {};
}

function tensorRows(k: Kernels, vectors: Tensor, d: number): LensRows {
  if (vectors.cols !== d) throw new RangeError(`logit lens needs ${d}-dimensional vectors, got ${vectors.cols}`);
  return { rows: vectors.rows, copy: (into, start, rows) => k.copy(vectors.buffer, start * d * 4, into.buffer, 0, rows * d * 4) };
}
