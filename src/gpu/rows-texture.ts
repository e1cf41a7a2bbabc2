// Rows of a matrix copied into an rgba32float texture (kernels/rows-texture.wgsl): the
// CPU adapters fetch a texel, four consecutive values of a row, as one vector gather,
// where each storage load costs a guarded scalar load per lane (kernels/lens.wgsl,
// kernels/matmul.wgsl).
import type { Kernels } from './kernels.ts';
import { grid1d } from './kernels.ts';
import { ROWS_TEXTURE } from './sources.ts';

export interface Rows {
  /** Row r, column c is X[offset + r * stride + c]. */
  X: GPUBuffer;
  rows: number;
  cols: number;
  offset?: number;
  stride?: number;
}

/** The rows of a multiple of 4 columns within this device's texture size can be copied. */
export function fitsTexture(k: Kernels, rows: number, cols: number): boolean {
  const side = k.device.limits.maxTextureDimension2D;
  return cols % 4 === 0 && cols / 4 <= side && rows <= side;
}

// RENDER_ATTACHMENT although nothing renders to it: Dawn zeroes a new texture before its
// first use, and one it cannot render to it zeroes by a copy from an upload buffer that
// it then keeps for the life of the device (4 MiB more at the peak of an analysis on
// lavapipe, bench/RESULTS.md issue 28, 9); a render target it clears in place.
const create = (k: Kernels, quads: number, rows: number, label: string): GPUTexture =>
  k.device.createTexture({ label, size: [quads, rows], format: 'rgba32float', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.RENDER_ATTACHMENT });

function write(k: Kernels, m: Rows, texture: GPUTexture): GPUTexture {
  const quads = m.cols / 4;
  k.dispatch(ROWS_TEXTURE, 'rows_texture', [m.rows, quads, m.offset ?? 0, m.stride ?? m.cols], [m.X, texture.createView()], grid1d(m.rows * quads, 64));
  return texture;
}

/**
 * Texel (q, r) = row r's columns 4q .. 4q + 3; the caller checks fitsTexture first and
 * hands the texture to k.release once the commands that read it are recorded.
 */
export function rowsTexture(k: Kernels, m: Rows, label: string): GPUTexture {
  return write(k, m, create(k, m.cols / 4, m.rows, label));
}

/** Largest rows kept in the texture that rowsScratch reuses; larger ones get their own. */
const SCRATCH_BYTES = 1 << 20;
const scratch = new WeakMap<Kernels, GPUTexture>();

/**
 * As rowsTexture, into the top left of one texture per engine that grows to the largest
 * rows asked for (up to SCRATCH_BYTES): a fresh texture per matmul, 48 per gpt2-small
 * pass, raised the pass's peak by 20-30 MB on both CPU adapters, far over their size.
 * Each dispatch that writes it runs after the ones that read it before. `owned` says
 * whether the caller must release the texture (rows too large to keep).
 */
export function rowsScratch(k: Kernels, m: Rows): { texture: GPUTexture; owned: boolean } {
  const quads = m.cols / 4;
  if (16 * quads * m.rows > SCRATCH_BYTES) return { texture: rowsTexture(k, m, 'rows.scratch (once)'), owned: true };
  let texture = scratch.get(k);
  if (!texture || texture.width < quads || texture.height < m.rows) {
    if (texture) k.release(texture);
    texture = create(k, Math.max(quads, texture?.width ?? 0), Math.max(m.rows, texture?.height ?? 0), 'rows.scratch');
    scratch.set(k, texture);
  }
  return { texture: write(k, m, texture), owned: false };
}
