// The unembedding's rows as texels for lens_texture (kernels/lens.wgsl), a chunk of
// ids at a time: on lavapipe a texel fetch is one vector gather for all lanes, where
// a storage load is a guarded scalar load per lane. A texel holds one quad of weights
// as raw words (rgba32uint for F32, rg32uint for the two words of four 16-bit
// weights), so the kernel decodes them as it decodes storage words. Rows lie end to
// end, WIDTH texels a texture row, so any row width copies as whole texture rows and
// one partial row.
import type { Kernels } from './kernels.ts';
import { weightType, type Block, type Tensor } from '../tensor.ts';

/** Texels per texture row; kernels/lens.wgsl's wteQuad divides by it. */
const WIDTH = 64;
/**
 * The texture's size: the whole embedding as a texture (154 MB at gpt2-small) would
 * raise the peak memory by its size; a few MiB re-filled per chunk cost one memcpy
 * of the embedding per lens call.
 */
const CHUNK_BYTES = 4 << 20;
/** Ids per tile of the lens kernel: a chunk holds whole tiles. */
const TILE = 8;

export class QuadsTexture {
  /** Ids per chunk, whole tiles. */
  readonly ids: number;
  private readonly texture: GPUTexture;
  private readonly texelBytes: number;

  /** `quads`: quads per row of E (its width / 4); `chunkBytes` is for tests that want many chunks. */
  constructor(private readonly k: Kernels, private readonly E: Tensor, private readonly quads: number, chunkBytes = CHUNK_BYTES) {
    this.texelBytes = weightType(E) === 'f32' ? 16 : 8;
    const texels = Math.min(chunkBytes / this.texelBytes, WIDTH * k.device.limits.maxTextureDimension2D);
    const vocab = Math.ceil(E.rows / TILE) * TILE;
    this.ids = Math.min(vocab, Math.max(TILE, Math.floor(texels / quads / TILE) * TILE));
    const height = Math.max(Math.ceil((this.ids * quads) / WIDTH), TILE * this.watchedRows());
    this.texture = k.device.createTexture({
      label: 'lens.wteChunk',
      size: [WIDTH, height],
      format: this.texelBytes === 16 ? 'rgba32uint' : 'rg32uint',
      // A render target too: Dawn then zeroes it in place, not by a copy from a 4 MiB
      // buffer it keeps for the device's life (bench/RESULTS.md, issue 28, 9).
      usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.RENDER_ATTACHMENT,
    });
  }

  view(): GPUTextureView {
    return this.texture.createView();
  }

  /** Copies ids c0 .. c1 - 1 of block b (block-local) to texel 0 on. */
  chunk(b: Block, c0: number, c1: number): void {
    this.copy(b, c0, c1 - c0, 0);
  }

  /** Copies the watched ids' rows, row w from texel w * stride on; returns the stride. */
  watched(ids: readonly number[]): number {
    const perRow = this.watchedRows();
    ids.forEach((id, w) => {
      const b = this.E.blocks.find((x) => id >= x.row0 && id < x.row0 + x.rows)!;
      this.copy(b, id - b.row0, 1, w * perRow);
    });
    return perRow * WIDTH;
  }

  /** Destroys the texture once the dispatches recorded with it have run. */
  release(): void {
    this.k.release(this.texture);
  }

  private watchedRows(): number {
    return Math.ceil(this.quads / WIDTH);
  }

  private copy(b: Block, id0: number, ids: number, row0: number): void {
    const texels = ids * this.quads;
    const offset = id0 * this.quads * this.texelBytes;
    const bytesPerRow = WIDTH * this.texelBytes;
    const full = Math.floor(texels / WIDTH);
    if (full) this.k.copyToTexture(b.buffer, offset, bytesPerRow, this.texture, [0, row0], [WIDTH, full]);
    const rest = texels % WIDTH;
    if (rest) this.k.copyToTexture(b.buffer, offset + full * bytesPerRow, bytesPerRow, this.texture, [0, row0 + full], [rest, 1]);
  }
}
