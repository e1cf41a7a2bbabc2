// The fused logit-lens reduction (kernels/lens.wgsl): for each row of h, the
// log-sum-exp of h . E^T (E the [V, d] unembedding), its top-k and bottom-k, and the 0-based ranks of
// watched ids, without ever storing the [rows, vocabulary] logits. Order and ties
// are those of gpu/vocab.ts. Skipped ids (rows that stand for no real token) stay in
// the log-sum-exp but enter no list and count in no rank.
import { upload, zeros } from './buffers.ts';
import type { Kernels } from './kernels.ts';
import { grid1d, sharesRows } from './kernels.ts';
import { QuadsTexture } from './quads-texture.ts';
import { fitsTexture, rowsTexture } from './rows-texture.ts';
import { LENS, LENS_SUBGROUPS } from './sources.ts';
import { weightType, type Tensor } from '../tensor.ts';
import { MAX_K } from './vocab.ts';

/** kernels/lens.wgsl computes the watched logits in one 8-wide tile. */
export const MAX_WATCHED = 8;
/** Rows per invocation of lens_tiles. */
const ROWS = 16;
/** Ids per tile of lens_tiles: a slice is every S-th tile. */
const IDS = 8;
/** Invocations of lens_texture's workgroup, which share their rows of h where subgroups allow. */
const SHARE = 8;
/**
 * Slices of a block of `rows` ids when rows of h come in `groups` of 16. Each (row,
 * slice) record keeps its own lists, and a slice of n ids inserts into each about
 * k (1 + ln(n / k)) times, so more slices mean more insertions. A GPU gets about 2048
 * invocations, to keep its cores busy when rows are few. The CPU adapters run 8 lanes
 * at a time on a few cores: there 2048 spent over a third of the kernel on insertions,
 * and 8 slices, one workgroup per row group, measured fastest (bench/RESULTS.md, issue
 * 28, 10); a count that does not depend on the rows also keeps a vector's results the
 * same whichever others are projected with it. Always a multiple of 8, so a
 * lens_texture workgroup shares its rows of h (kernels/rows-shared.wgsl), and
 * every layout slices alike, so they keep the same bits.
 */
function slices(k: Kernels, groups: number, rows: number): number {
  if (k.gpu.software) return SHARE;
  return SHARE * Math.ceil(Math.min(Math.ceil(2048 / groups), Math.ceil(rows / IDS)) / SHARE);
}

/**
 * Where the lens tile reads its operands from (kernels/lens.wgsl): 'buffer' (lens_tiles)
 * or 'texture' (lens_texture: h as an rgba32float copy and the embedding a chunk of
 * ids at a time as texels of four weights, which lavapipe fetches as vectors rather
 * than lane by lane; used only where d is a multiple of 4); 'texture-rows' is
 * lens_texture with each trip's multiply-adds ordered row by row (ROW_ORDER). Same
 * logits and records, bit for bit.
 */
export type LensLayout = 'buffer' | 'texture' | 'texture-rows';

/**
 * The CPU adapters: the texture measured faster on lavapipe and no slower on SwiftShader;
 * the row order faster on lavapipe only (bench/RESULTS.md, issue 28, sections 3 and 7).
 */
export const defaultLayout = (k: Kernels): LensLayout => (!k.gpu.software ? 'buffer' : /llvmpipe|lavapipe/i.test(k.gpu.adapterName) ? 'texture-rows' : 'texture');

export interface IdScore {
  id: number;
  score: number;
}

export interface LensRow {
  /** log sum_c exp(logit_c): probabilities are exp(score - lse). */
  lse: number;
  top: IdScore[];
  bottom: IdScore[];
  /** 0-based rank of each watched id from the most probable (ties to the lower id) ... */
  rankFromTop: number[];
  /** ... and from the least probable. */
  rankFromBottom: number[];
}

/** Words per row of the result (see lens_merge). */
export const resultWords = (count: number, watched: number) => 1 + 4 * count + 2 * watched;

/** The arguments every lens (this one, lens/lens-wasm.ts) refuses. */
export function checkLens(cols: number, E: Tensor, count: number, watched: readonly number[], skip: readonly number[]): void {
  const [V, d] = E.shape as [number, number];
  const listed = V - skip.length;
  if (cols !== d) throw new RangeError(`lens: rows of ${cols}, the embedding has ${d}`);
  skip.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= V || (i > 0 && id <= skip[i - 1]!)) throw new RangeError(`lens: skipped ids must ascend within the vocabulary 0..${V - 1}; got ${id} at ${i}`);
  });
  if (!Number.isInteger(count) || count < 1 || count > Math.min(MAX_K, listed)) throw new RangeError(`lens: k = ${count} must be between 1 and ${Math.min(MAX_K, listed)} (the vocabulary has ${V} ids, ${listed} of them listed)`);
  if (watched.length > MAX_WATCHED) throw new RangeError(`lens: at most ${MAX_WATCHED} watched ids, got ${watched.length}`);
  const bad = watched.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
  if (bad !== undefined) throw new RangeError(`lens: watched id ${bad} is outside the vocabulary 0..${V - 1}`);
}

/**
 * Runs the fused lens on h [R, d] against the unembedding E [V, d] (split or not) and returns the
 * raw result [R, 1 + 4k + 2W] for decodeLens: one readback for any number of rows.
 * `skip`: ids, ascending, that the lists and ranks leave out. `chunkBytes` sizes the
 * texture layouts' embedding chunks (tests ask for small ones).
 */
export function lens(k: Kernels, h: Tensor, E: Tensor, count: number, watched: readonly number[], skip: readonly number[] = [], layout: LensLayout = defaultLayout(k), chunkBytes?: number): Tensor {
  checkLens(h.cols, E, count, watched, skip);
  const [V, d] = E.shape as [number, number];
  const R = h.rows;
  const W = watched.length;
  const result = zeros(k, [R, resultWords(count, W)], 'f32', 'lens.result');
  if (R === 0) return result;

  const groups = Math.ceil(R / ROWS);
  const sliceCounts = E.blocks.map((b) => slices(k, groups, b.rows));
  const nSlices = sliceCounts.reduce((a, b) => a + b, 0);
  const rec = 2 + 4 * count + 2 * W;
  const part = zeros(k, [R * nSlices * rec], 'i32', 'lens.partials');
  if (part.split) throw new RangeError(`lens: ${R} rows need ${R * nSlices * rec * 4} bytes of partial results, above one storage binding; project fewer rows at once`);
  const ids = upload(k, [Math.max(1, W)], W ? watched : [0], 'i32', 'lens.watched');
  const logits = zeros(k, [R, Math.max(1, W)], 'f32', 'lens.watchedLogits');
  const mask = upload(k, [maskWords(V)], skipMask(V, skip), 'i32', 'lens.skip');
  // Stands in for the bindings a mode does not use: one buffer cannot be bound both read and read-write.
  const unused = zeros(k, [1], 'f32', 'lens.unused');
  const unusedOut = zeros(k, [1], 'f32', 'lens.unusedOut');
  // The texture kernel reads four weights at a time, so rows must be whole quads; else, or
  // past the texture's size, the buffer layout serves.
  const texture = layout !== 'buffer' && fitsTexture(k, R, d) ? rowsTexture(k, { X: h.buffer, rows: R, cols: d }, 'lens.hRows') : undefined;
  try {
    const src = (texture && sharesRows(k) ? LENS_SUBGROUPS : LENS)[weightType(E)];
    const params = (b: { rows: number; row0: number }, S: number, slice0: number, mode: number, chunk = { c0: 0, c1: b.rows, stride: 0 }) =>
      [R, d, b.rows, b.row0, count, W, S, nSlices, slice0, rec, groups, mode, chunk.c0, chunk.c1, chunk.stride, 0];
    if (texture) {
      const quads = d / 4;
      const wte = new QuadsTexture(k, E, quads, chunkBytes);
      const views = [texture.createView(), wte.view()];
      const bind = (buffers: (GPUBuffer | null)[]) => [null, null, ...buffers, ...views];
      const constants = { ROW_ORDER: layout === 'texture-rows' ? 1 : 0 };
      // Mode 1 (the watched logits) reads the watched rows from the texture's top, before the first chunk overwrites them.
      if (W) {
        const stride = wte.watched(watched);
        // SHARE slices, so a workgroup shares its rows; slice 0 writes the logits.
        k.dispatch(src, 'lens_texture', params({ rows: V, row0: 0 }, SHARE, 0, 1, { c0: 0, c1: IDS, stride }), bind([ids.buffer, unused.buffer, logits.buffer, unusedOut.buffer, mask.buffer]), grid1d(groups * SHARE, SHARE), constants);
      }
      let slice0 = 0;
      E.blocks.forEach((b, i) => {
        const S = sliceCounts[i]!;
        for (let c0 = 0; c0 < b.rows; c0 += wte.ids) {
          const c1 = Math.min(b.rows, c0 + wte.ids);
          wte.chunk(b, c0, c1);
          k.dispatch(src, 'lens_texture', params(b, S, slice0, 0, { c0, c1, stride: quads }), bind([ids.buffer, logits.buffer, unused.buffer, part.buffer, mask.buffer]), grid1d(groups * S, SHARE), constants);
        }
        slice0 += S;
      });
      wte.release();
    } else {
      const bind = (buffers: GPUBuffer[]) => [h.buffer, ...buffers];
      if (W) for (const b of E.blocks) k.dispatch(src, 'lens_tiles', params(b, 1, 0, 1), bind([b.buffer, ids.buffer, unused.buffer, logits.buffer, unusedOut.buffer, mask.buffer]), grid1d(groups, 64));
      let slice0 = 0;
      E.blocks.forEach((b, i) => {
        const S = sliceCounts[i]!;
        k.dispatch(src, 'lens_tiles', params(b, S, slice0, 0), bind([b.buffer, ids.buffer, logits.buffer, unused.buffer, part.buffer, mask.buffer]), grid1d(groups * S, 64));
        slice0 += S;
      });
    }
    // From the lens's own module: another one (its dtype's or the plain form) is a second compile, ~4 MiB of heap on lavapipe.
    k.dispatch(src, 'lens_merge', params(E.blocks[0]!, 0, 0, 0), [part.buffer, result.buffer], [Math.ceil(R / 64)]);
  } finally {
    part.dispose();
    ids.dispose();
    logits.dispose();
    mask.dispose();
    unused.dispose();
    unusedOut.dispose();
    if (texture) k.release(texture);
  }
  return result;
}

/** The kernel reads whole tiles of 8 ids, so the mask covers 8 ids past the last. */
const maskWords = (V: number) => Math.ceil((V + 8) / 32);

function skipMask(V: number, skip: readonly number[]): Int32Array {
  const words = new Int32Array(maskWords(V));
  for (const id of skip) words[id >>> 5]! |= 1 << (id & 31);
  return words;
}

/** Unpacks lens()'s result, read back as f32. */
export function decodeLens(data: Float32Array, rows: number, count: number, watched: number): LensRow[] {
  const words = resultWords(count, watched);
  const ints = new Int32Array(data.buffer, data.byteOffset, data.length);
  const list = (at: number): IdScore[] => Array.from({ length: count }, (_, j) => ({ id: ints[at + count + j]!, score: data[at + j]! }));
  return Array.from({ length: rows }, (_, r) => {
    const at = r * words;
    const ranks = at + 1 + 4 * count;
    return {
      lse: data[at]!,
      top: list(at + 1),
      bottom: list(at + 1 + 2 * count),
      rankFromTop: Array.from(ints.subarray(ranks, ranks + watched)),
      rankFromBottom: Array.from(ints.subarray(ranks + watched, ranks + 2 * watched)),
    };
  });
}
