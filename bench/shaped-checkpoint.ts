// Writes a random checkpoint of a real model's shape for the load-and-analyse
// measurements: GPT-2 shapes (config.json + model.safetensors) for the runs at
// WebGPU's minimum limits (bench/RESULTS.md, "Minimum limits") and the peer and
// scaling benches; pythia-160m's ("GPT-NeoX"), with the tests' hand-made
// Pythia-shaped tokenizer.json (no package ships Pythia's own); Llama shapes (BF16,
// sharded, Llama 2's tokenizer.json) for the scale runs ("Llama2-7B and TinyLlama shapes").
//   node dist/bench/shaped-checkpoint.js --shape tiny|small|medium|xl|pythia-160m [--dtype F16|F32] --out DIR
//   node dist/bench/shaped-checkpoint.js --shape llama-tiny|tinyllama|llama2-7b --out DIR
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NEOX_TOKENIZER_CONFIG, NEOX_TOKENIZER_JSON } from '../test/model/neox-tokenizer.ts';
import { LLAMA_SHAPES, writeLlamaShaped } from './lib/llama-shapes.ts';
import { FAMILY_SHAPES, SHAPES, writeConfigCheckpoint, writeShapedCheckpoint } from './lib/shapes.ts';

const { values } = parseArgs({ options: { shape: { type: 'string' }, dtype: { type: 'string', default: 'F16' }, out: { type: 'string' } } });
const shape = values.shape ?? '';
const dtype: 'F16' | 'F32' = values.dtype === 'F32' ? 'F32' : 'F16';
const known = [SHAPES, FAMILY_SHAPES, LLAMA_SHAPES].some((table) => Object.hasOwn(table, shape));
if (!known || !values.out) {
  console.error(`usage: shaped-checkpoint --shape ${[...Object.keys(SHAPES), ...Object.keys(FAMILY_SHAPES), ...Object.keys(LLAMA_SHAPES)].join('|')} [--dtype F16|F32 (not the Llama shapes)] --out DIR`);
  process.exit(2);
}
if (Object.hasOwn(SHAPES, shape)) {
  await writeShapedCheckpoint(SHAPES[shape]!, dtype, values.out);
} else if (Object.hasOwn(FAMILY_SHAPES, shape)) {
  await writeConfigCheckpoint(FAMILY_SHAPES[shape]!, dtype, values.out);
  writeFileSync(join(values.out, 'tokenizer.json'), NEOX_TOKENIZER_JSON);
  writeFileSync(join(values.out, 'tokenizer_config.json'), NEOX_TOKENIZER_CONFIG);
} else {
  await writeLlamaShaped(shape, values.out);
}
console.log(`wrote ${shape} (${Object.hasOwn(LLAMA_SHAPES, shape) ? 'BF16' : dtype}) to ${values.out}`);
