// Study throughput (records per minute) on CounterFact's training records: the
// default model and a random gpt2-small-shaped one (12 layers, d 768, vocabulary
// 50,257), all four modules, as `backward-lens study` runs them.
//   node dist/bench/study.js [--records N] [--small-records N] [--batch N]   (from the repository root)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { parseRecords } from '../src/study/records.ts';
import { runStudy } from '../src/study/run.ts';
import { Model } from '../src/model/model.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { Gpt2Tokenizer } from '../src/tokenizer/gpt2-bpe.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { randomGpt2, SHAPES } from './lib/shapes.ts';

const { values } = parseArgs({ options: { records: { type: 'string' }, 'small-records': { type: 'string' }, batch: { type: 'string' } } });
const batch = Number(values.batch ?? 16);

const k = await getEngine();
const file = '../shared/data/counterfact/counterfact-train.json';
const { records } = parseRecords(JSON.parse(readFileSync(file, 'utf8')), file);
console.log(`adapter: ${k.gpu.adapterName}; batch ${batch}`);

async function rate(name: string, model: Model, tokenizer: Tokenizer, n: number): Promise<void> {
  await runStudy(model, tokenizer, records.slice(0, Math.min(n, batch)), { batch }); // warm-up: pipelines
  const t0 = performance.now();
  const o = await runStudy(model, tokenizer, records.slice(0, n), { batch });
  const s = (performance.now() - t0) / 1000;
  console.log(`${name}: ${o.studied} records in ${s.toFixed(1)} s = ${((o.studied / s) * 60).toFixed(1)} records/min`);
}

const def = await loadModelPath(k, 'weights/default');
await rate('default model (4 layers, d 128, vocabulary 5,484)', def.model, def.tokenizer, Number(values.records ?? 64));
def.model.dispose();

await rate('random gpt2-small-shaped model (12 layers, d 768, vocabulary 50,257)', randomGpt2(k, SHAPES.small!), new Gpt2Tokenizer(), Number(values['small-records'] ?? 16));
