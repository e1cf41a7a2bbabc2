// Writes a random checkpoint of a real model's shape for the load-and-analyse
// measurements: GPT-2 shapes (config.json + model.safetensors) for the runs at
// WebGPU's minimum limits (bench/RESULTS.md, "Minimum limits") and the peer and
// scaling benches; Llama shapes (BF16, sharded, Llama 2's tokenizer.json) for the
// scale runs ("Llama2-7B and TinyLlama shapes").
//   node dist/bench/shaped-checkpoint.js --shape tiny|small|medium|xl [--dtype F16|F32] --out DIR
//   node dist/bench/shaped-checkpoint.js --shape llama-tiny|tinyllama|llama2-7b --out DIR
import { parseArgs } from 'node:util';
import { LLAMA_SHAPES, writeLlamaShaped } from './lib/llama-shapes.ts';
import { SHAPES, writeShapedCheckpoint } from './lib/shapes.ts';

const { values } = parseArgs({ options: { shape: { type: 'string' }, dtype: { type: 'string', default: 'F16' }, out: { type: 'string' } } });
const shape = values.shape ?? '';
const cfg = SHAPES[shape];
const dtype: 'F16' | 'F32' = values.dtype === 'F32' ? 'F32' : 'F16';
if ((!cfg && !Object.hasOwn(LLAMA_SHAPES, shape)) || !values.out) {
  console.error(`usage: shaped-checkpoint --shape ${[...Object.keys(SHAPES), ...Object.keys(LLAMA_SHAPES)].join('|')} [--dtype F16|F32 (GPT-2 shapes)] --out DIR`);
  process.exit(2);
}
if (cfg) await writeShapedCheckpoint(cfg, dtype, values.out);
else await writeLlamaShaped(shape, values.out);
console.log(`wrote ${shape} (${cfg ? dtype : 'BF16'}) to ${values.out}`);
