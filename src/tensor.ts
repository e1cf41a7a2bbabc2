// A Tensor is a GPU buffer with a row-major shape; nothing else.
export type DType = 'f32' | 'i32';

export class Tensor {
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    private readonly release: (b: GPUBuffer) => void,
    readonly name = '',
  ) {}

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

  /** Frees the buffer once work already recorded with it has been submitted. */
  dispose(): void {
    this.release(this.buffer);
  }
}
