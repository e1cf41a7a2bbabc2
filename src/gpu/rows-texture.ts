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

/**
 * Texel (q, r) = row r's columns 4q .. 4q + 3; the caller checks fitsTexture first and
 * hands the texture to k.release once the commands that read it are recorded.
 */
export function rowsTexture(k: Kernels, m: Rows, label: string): GPUTexture {
  const quads = m.cols / 4;
  const texture = k.device.createTexture({ label, size: [quads, m.rows], format: 'rgba32float', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING });
  k.dispatch(ROWS_TEXTURE, 'rows_texture', [m.rows, quads, m.offset ?? 0, m.stride ?? m.cols], [m.X, texture.createView()], grid1d(m.rows * quads, 64));
  return texture;
}
