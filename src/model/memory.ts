// Bytes a model's weights take on the device, by dtype: what `doctor` and the JSON
// reports (`model.memory`) show, so a 16-bit checkpoint's saving is visible.
import type { DType } from '../tensor.ts';
import type { Model } from './model.ts';

export interface WeightMemory {
  /** Every parameter, padding of the buffers aside. */
  bytes: number;
  /** The same, split by device dtype (f16/bf16: matrices kept 16-bit). */
  byDtype: Partial<Record<DType, number>>;
}

export function weightMemory(model: Model): WeightMemory {
  const byDtype: Partial<Record<DType, number>> = {};
  let bytes = 0;
  for (const t of model.params.values()) {
    byDtype[t.dtype] = (byDtype[t.dtype] ?? 0) + t.bytes;
    bytes += t.bytes;
  }
  return { bytes, byDtype };
}

/** "497 MiB (f16 494 MiB, f32 3 MiB)". */
export function describeMemory(m: WeightMemory): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 24 ? 1 : 0)} MiB`;
  const parts = Object.entries(m.byDtype).map(([d, b]) => `${d} ${mib(b!)}`);
  return `${mib(m.bytes)}${parts.length > 1 ? ` (${parts.join(', ')})` : ''}`;
}
