// The sweep behind the default model's documented edit defaults (weights/default/
// MODEL_CARD.md, "Editing"): for each of the first N trained CounterFact records,
// edit prompt -> " " + target_new alone, measure, restore. Per method, layer and eta:
// the success rate (target_new's first token becomes the top-1 next token) and the
// neighbourhood rate (the locality prompt's top-1 stays what it was before the edit).
//   node dist/bench/experiments/edit-defaults.js (from the repository root; ../shared beside it)
//     [--records 100] [--json FILE] [--methods shift,sgd,adam] [--specs shift:2+3:0.5:10,...]
//     [--model NAME] (an embedded model, e.g. llama-default; default: default)
// --specs replaces the grid with chosen settings: method:layers(+-joined):eta[:steps].
// --seen keeps only records whose target_new first token occurs in the training text,
// a Llama's cover sentences included (the other targets' embedding rows collapsed onto
// one direction; MODEL_CARD.md).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { edit } from '../../src/edit/edit.ts';
import type { EditSpec } from '../../src/edit/types.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { predictNext } from '../../src/model/next-token.ts';
import { answerToken, type CounterFactRecord } from '../../src/data/counterfact.ts';
import { coverOf, trainingText } from '../../src/cli/training-text.ts';
import { EMBEDDED_MODELS, embeddedModel } from '../../src/model/embedded.ts';
import { promptIds } from '../../src/tokenizer/tokenizer.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '100' }, json: { type: 'string' }, methods: { type: 'string', default: 'shift,sgd,adam' }, specs: { type: 'string' }, seen: { type: 'boolean' }, model: { type: 'string' } } });
const N = Number(values.records);
const trained = (JSON.parse(readFileSync(new URL('../../../../shared/data/counterfact/counterfact-train.json', import.meta.url), 'utf8')) as CounterFactRecord[]).slice(0, 1000);
const k = await getEngine();
const embedded = embeddedModel(values.model);
if (!embedded) throw new Error(`--model ${values.model}: not an embedded model (${EMBEDDED_MODELS.map((m) => m.name).join(', ')})`);
const { model, tokenizer, metadata } = await loadModelPath(k, new URL(`../../../weights/${embedded.folder}`, import.meta.url).pathname);
// The training text (cover sentences included) only when --seen asks which targets it holds.
const seenTokens = () => new Set(trainingText(new URL('../../../../shared/data', import.meta.url).pathname, tokenizer, trained, coverOf(metadata), model.config.nPositions).flatMap((s) => tokenizer.encode(s)));
const records = (values.seen ? ((seen) => trained.filter((r) => seen.has(answerToken(tokenizer, r.prompt, r.target_new))))(seenTokens()) : trained).slice(0, N);
process.stderr.write(`${records.length} records (case_ids ${records[0]!.case_id}-${records.at(-1)!.case_id}${values.seen ? ', targets seen in training' : ''})\n`);
const layers = Array.from({ length: model.config.nLayer }, (_, l) => l);

const grids: Record<string, number[]> = {
  shift: [0.1, 0.25, 0.5, 1, 2],
  sgd: [0.1, 1, 10],
  adam: [5e-4],
};
const specs: { name: string; spec: EditSpec }[] = values.specs
  ? values.specs.split(',').map((text) => {
    const [method, ls, lr, steps] = text.split(':');
    const spec: EditSpec = { method: method as EditSpec['method'], layers: ls!.split('+').map(Number), lr: Number(lr), ...(steps ? { steps: Number(steps) } : {}) };
    return { name: `${method} L${ls} eta ${lr}${steps ? ` steps ${steps}` : ''}`, spec };
  })
  : values.methods!.split(',').flatMap((method) =>
    layers.flatMap((l) => grids[method]!.map((lr) => ({ name: `${method} L${l} eta ${lr}`, spec: { method: method as EditSpec['method'], layers: [l], lr } }))));

const enc = (s: string) => promptIds(tokenizer, s);
const baseline = await predictNext(model, tokenizer, records.map((r) => enc(r.locality_prompt)), 1);
const rows: { name: string; method: string; layers: string; stepsAllowed: number; lr: number; success: number; neighborhood: number; steps: number }[] = [];
const started = performance.now();
for (const [i, { name, spec }] of specs.entries()) {
  let success = 0;
  let kept = 0;
  let steps = 0;
  for (const [j, r] of records.entries()) {
    const target = answerToken(tokenizer, r.prompt, r.target_new);
    const result = await edit(model, tokenizer, [{ prompt: r.prompt, target: ` ${r.target_new}` }], spec);
    const [after, local] = await predictNext(model, tokenizer, [enc(r.prompt), enc(r.locality_prompt)], 1, [target]);
    model.restore();
    steps += result.steps;
    if (after!.watched!.rank === 1) success++;
    if (local!.top[0]!.id === baseline[j]!.top[0]!.id) kept++;
  }
  rows.push({ name, method: spec.method, layers: spec.layers.join('+'), stepsAllowed: spec.steps ?? 1, lr: spec.lr!, success: success / N, neighborhood: kept / N, steps: steps / N });
  const eta = ((performance.now() - started) / (i + 1)) * (specs.length - i - 1) / 1000;
  process.stderr.write(`${name.padEnd(30)} success ${(100 * success / N).toFixed(0).padStart(3)} %  neighbourhood kept ${(100 * kept / N).toFixed(0).padStart(3)} %  steps ${(steps / N).toFixed(1)}  (${i + 1}/${specs.length}, ETA ${eta.toFixed(0)} s)\n`);
}
console.log(['| method | layers | eta | steps allowed | success | neighbourhood kept | mean steps run |', '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.method} | ${r.layers} | ${r.lr} | ${r.stepsAllowed} | ${(100 * r.success).toFixed(0)} % | ${(100 * r.neighborhood).toFixed(0)} % | ${r.steps.toFixed(1)} |`)].join('\n'));
if (values.json) writeFileSync(values.json, JSON.stringify({ records: N, seenTargetsOnly: values.seen ?? false, adapter: k.gpu.adapterName, rows }, null, 2));
process.exit(0);
