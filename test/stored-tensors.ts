// The tensors a safetensors file on disk holds: each one's shape, and its values when
// stored as F32 (what the CLI tests compare between a source and an edited model).
import { fileSource } from '../src/model/node-file.ts';
import { openSafetensors } from '../src/model/safetensors.ts';

export async function storedTensors(path: string): Promise<Map<string, { shape: number[]; data: Float32Array | undefined }>> {
  const src = await fileSource(path);
  try {
    const file = await openSafetensors(src);
    const out = new Map<string, { shape: number[]; data: Float32Array | undefined }>();
    for (const [name, info] of file.tensors) out.set(name, { shape: info.shape, data: info.dtype === 'F32' ? await file.readF32(name) : undefined });
    return out;
  } finally {
    await src.close();
  }
}
