// Writes a random checkpoint of a real model's shape (config.json +
// model.safetensors) for the load-and-analyse measurements at WebGPU's minimum
// limits (bench/RESULTS.md, "Minimum limits"), the peer and scaling benches, and
// pythia-160m's (bench/RESULTS.md, "GPT-NeoX"), which also gets the tests'
// hand-made Pythia-shaped tokenizer.json (no package ships Pythia's own).
//   node dist/bench/shaped-checkpoint.js --shape tiny|small|medium|xl|pythia-160m [--dtype F16|F32] --out DIR
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NEOX_TOKENIZER_CONFIG, NEOX_TOKENIZER_JSON } from '../test/model/neox-tokenizer.ts';
import { FAMILY_SHAPES, SHAPES, writeConfigCheckpoint, writeShapedCheckpoint } from './lib/shapes.ts';

const { values } = parseArgs({ options: { shape: { type: 'string' }, dtype: { type: 'string', default: 'F16' }, out: { type: 'string' } } });
const shape = values.shape ?? '';
const dtype: 'F16' | 'F32' = values.dtype === 'F32' ? 'F32' : 'F16';
if (!(Object.hasOwn(SHAPES, shape) || Object.hasOwn(FAMILY_SHAPES, shape)) || !values.out) {
  console.error(`usage: shaped-checkpoint --shape ${[...Object.keys(SHAPES), ...Object.keys(FAMILY_SHAPES)].join('|')} [--dtype F16|F32] --out DIR`);
  process.exit(2);
}
if (Object.hasOwn(SHAPES, shape)) {
  await writeShapedCheckpoint(SHAPES[shape]!, dtype, values.out);
} else {
  await writeConfigCheckpoint(FAMILY_SHAPES[shape]!, dtype, values.out);
  writeFileSync(join(values.out, 'tokenizer.json'), NEOX_TOKENIZER_JSON);
  writeFileSync(join(values.out, 'tokenizer_config.json'), NEOX_TOKENIZER_CONFIG);
}
console.log(`wrote ${values.shape} (${dtype}) to ${values.out}`);
