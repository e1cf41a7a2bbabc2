// A Tensor is GPU memory with a row-major shape. Most tensors are one buffer; one
// larger than a storage binding may be (the embedding, the LM head's logits on a
// long batch) is several buffers of whole rows, and only ops that walk `blocks`
// accept it.
//
// 'f16' and 'bf16' are weights kept as the checkpoint stored them, two 16-bit
// values per u32 word (element i in half i & 1 of word i >> 1, rows not padded):
// only kernels that read weights through kernels/weights.wgsl accept them.
export type DType = 'f32' | 'i32' | 'f16' | 'bf16';
export type WeightType = 'f32' | 'f16' | 'bf16';

/**
 * How a linear layer's weight matrix is stored: 'in_out' is GPT-2's Conv1D [in, out];
 * 'out_in' is nn.Linear's [out, in] (Llama, Mistral, Qwen2, GPT-NeoX), which the
 * kernels read transposed so that no checkpoint needs a transpose at load.
 */
export type WeightLayout = 'in_out' | 'out_in';

/** Bytes per element on the device. */
export const elementBytes = (dtype: DType): number => (dtype === 'f16' || dtype === 'bf16' ? 2 : 4);

/** Rows row0 .. row0 + rows - 1 of a tensor, packed in their own buffer. */
export interface Block {
  buffer: GPUBuffer;
  row0: number;
  rows: number;
}

export class Tensor {
  /** Always at least one; a tensor that fits one binding has exactly one, covering every row. */
  readonly blocks: readonly Block[];

  constructor(
    storage: GPUBuffer | readonly Block[],
    readonly shape: readonly number[],
    readonly dtype: DType,
    private readonly release: (b: GPUBuffer) => void,
    readonly name = '',
  ) {
    this.blocks = Array.isArray(storage) ? storage : [{ buffer: storage as GPUBuffer, row0: 0, rows: this.rows }];
  }

  get split(): boolean {
    return this.blocks.length > 1;
  }

  /**
   * The one buffer of an unsplit tensor. An op that does not walk blocks fails here
   * with a sentence instead of a WebGPU binding-size error.
   */
  get buffer(): GPUBuffer {
    if (this.blocks.length > 1) {
      throw new SplitTensorError(`${this.name || 'a tensor'} [${this.shape.join(', ')}] is larger than one storage binding of this device and is split in ${this.blocks.length}; this operation cannot take it split`);
    }
    return this.blocks[0]!.buffer;
  }

  /** Where row `row` starts, split or not: for copies of single rows (a token's embedding). */
  rowAt(row: number): { buffer: GPUBuffer; byteOffset: number } {
    const b = this.blocks.find((x) => row >= x.row0 && row < x.row0 + x.rows);
    if (!b) throw new RangeError(`${this.name || 'tensor'}: row ${row} outside 0..${this.rows - 1}`);
    if (this.packed) throw new TypeError(`${this.name || 'tensor'} is ${this.dtype}: its rows are not f32 words; gather them instead`);
    return { buffer: b.buffer, byteOffset: (row - b.row0) * this.cols * 4 };
  }

  /** Two 16-bit weights per word (see DType). */
  get packed(): boolean {
    return this.dtype === 'f16' || this.dtype === 'bf16';
  }

  /** Bytes the tensor takes on the device, padding of its buffers aside. */
  get bytes(): number {
    return this.size * elementBytes(this.dtype);
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Rows of a matrix view: every dimension but the last. */
  get rows(): number {
    return this.size / this.cols;
  }

  get cols(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  /** Frees the buffers once work already recorded with them has been submitted. */
  dispose(): void {
    for (const b of this.blocks) this.release(b.buffer);
  }
}

/** The dtype a weight-reading kernel must be specialised for (see kernels/weights-*.wgsl). */
export function weightType(t: Tensor): WeightType {
  if (t.dtype === 'i32') throw new TypeError(`${t.name || 'tensor'} is i32, not a float weight`);
  return t.dtype;
}

export class SplitTensorError extends Error {
  override name = 'SplitTensorError';
}
