// Writes a random GPT-2 checkpoint of a real model's shape (config.json +
// model.safetensors) for the load-and-analyse measurements at WebGPU's minimum
// limits (bench/RESULTS.md, "Minimum limits") and the peer and scaling benches.
//   node dist/bench/shaped-checkpoint.js --shape tiny|small|medium|xl [--dtype F16|F32] --out DIR
import { parseArgs } from 'node:util';
import { SHAPES, writeShapedCheckpoint } from './lib/shapes.ts';

const { values } = parseArgs({ options: { shape: { type: 'string' }, dtype: { type: 'string', default: 'F16' }, out: { type: 'string' } } });
const cfg = SHAPES[values.shape ?? ''];
const dtype: 'F16' | 'F32' = values.dtype === 'F32' ? 'F32' : 'F16';
if (!cfg || !values.out) {
  console.error(`usage: shaped-checkpoint --shape ${Object.keys(SHAPES).join('|')} [--dtype F16|F32] --out DIR`);
  process.exit(2);
}
await writeShapedCheckpoint(cfg, dtype, values.out);
console.log(`wrote ${values.shape} (${dtype}) to ${values.out}`);
