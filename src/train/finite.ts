// A learning rate far too large overflows float32: the weights become infinite or
// NaN, and a model or checkpoint holding them is useless (the loader refuses it).

/** The name of the first tensor holding an infinite or NaN value, or undefined. */
export function firstNonFinite(names: readonly string[], data: readonly Float32Array[]): string | undefined {
  return names.find((_, i) => !data[i]!.every(Number.isFinite));
}
