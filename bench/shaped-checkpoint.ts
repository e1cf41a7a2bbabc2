// Writes a random GPT-2 checkpoint of a real model's shape (config.json +
// model.safetensors) for the load-and-analyse measurements at WebGPU's minimum
// limits (bench/RESULTS.md, "Minimum limits"). F16 data is drawn directly as bit
// patterns, so a 3.2 GB gpt2-xl file needs 3.2 GB of memory, not 6.4.
//   node dist/bench/shaped-checkpoint.js --shape small|xl [--dtype F16|F32] --out DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configJson, parameterShapes, type Gpt2Config } from '../src/model/config.ts';
import { writeSafetensorsFile } from '../src/model/node-file.ts';
import { f32ToF16 } from '../src/model/safetensors.ts';

const SHAPES: Record<string, Gpt2Config> = {
  small: { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, vocabSize: 50257, nInner: 3072, eps: 1e-5 },
  xl: { nLayer: 48, nHead: 25, nEmbd: 1600, nPositions: 1024, vocabSize: 50257, nInner: 6400, eps: 1e-5 },
};

const { values } = parseArgs({ options: { shape: { type: 'string' }, dtype: { type: 'string', default: 'F16' }, out: { type: 'string' } } });
const cfg = SHAPES[values.shape ?? ''];
const dtype: 'F16' | 'F32' = values.dtype === 'F32' ? 'F32' : 'F16';
if (!cfg || !values.out) {
  console.error('usage: shaped-checkpoint --shape small|xl [--dtype F16|F32] --out DIR');
  process.exit(2);
}

// 4,096 values in +-0.04 (layernorm gains near 1), indexed by a multiplicative hash.
const table = Float32Array.from({ length: 4096 }, (_, i) => 0.04 * ((i / 4095) * 2 - 1));
const bits = f32ToF16(table);
const gains = f32ToF16(Float32Array.from(table, (v) => 1 + v));

const tensors = [...parameterShapes(cfg)].map(([name, shape]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const src = /ln_.*weight$/.test(name) ? gains : bits;
  const seed = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  if (dtype === 'F16') {
    const data = new Uint16Array(n);
    for (let i = 0; i < n; i++) data[i] = src[(Math.imul(i + seed, 2654435761) >>> 20) & 4095]!;
    return { name, dtype, shape, data };
  }
  const f = /ln_.*weight$/.test(name) ? (v: number) => 1 + v : (v: number) => v;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = f(table[(Math.imul(i + seed, 2654435761) >>> 20) & 4095]!);
  return { name, dtype, shape, data };
});
mkdirSync(values.out, { recursive: true });
await writeSafetensorsFile(join(values.out, 'model.safetensors'), tensors);
writeFileSync(join(values.out, 'config.json'), JSON.stringify(configJson(cfg)));
console.log(`wrote ${values.shape} (${dtype}) to ${values.out}`);
