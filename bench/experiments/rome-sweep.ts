// The small sweep behind the default model's ROME/MEMIT rows in
// src/edit/located/rome-hparams.ts (docs/rome-memit.md): for each of the first N trained
// CounterFact records whose target the model saw in training, edit alone, measure,
// restore. Per setting: success (target_new's first token becomes the top-1 next
// token), neighbourhood kept (the locality prompt's top-1 unchanged), the value
// search's final loss, and seconds per edit.
//   node dist/bench/experiments/rome-sweep.js [--records 5] [--specs rome:1:4:20,memit:0-1:0.75:20:20000,...]
// A spec is method:layers:clamp_norm_factor:steps[:lambda[:v_lr[:v_weight_decay]]]; statistics come from the
// default model's cache (backward-lens stats --layers 0-3 first).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { answerToken, spaced, type CounterFactRecord } from '../../src/data/counterfact.ts';
import { LocatedEditor, type LocatedSpec } from '../../src/edit/located/editor.ts';
import { fileSha256, momentFile, readMoment } from '../../src/edit/located/moment-cache-node.ts';
import { ROME_VALUE } from '../../src/edit/located/rome-hparams.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { predictNext } from '../../src/model/next-token.ts';
import { recordSentences } from '../../src/train/corpus.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '5' }, specs: { type: 'string', default: 'rome:0:4:20,rome:1:4:20,rome:2:4:20,rome:3:4:20' } } });
const N = Number(values.records);
const trained = (JSON.parse(readFileSync(new URL('../../../../shared/data/counterfact/counterfact-train.json', import.meta.url), 'utf8')) as CounterFactRecord[]).slice(0, 1000);
const modelDir = new URL('../../../weights/default', import.meta.url).pathname;
const { model, tokenizer } = await loadModelPath(await getEngine(), modelDir);
const seen = new Set(trained.flatMap((r) => recordSentences(r).flatMap((s) => tokenizer.encode(s))));
const records = trained.filter((r) => seen.has(answerToken(tokenizer, r.prompt, r.target_new))).slice(0, N);
const sha = await fileSha256(`${modelDir}/model.safetensors`);
const editor = new LocatedEditor(model, tokenizer, async (l) => {
  const m = await readMoment(`${modelDir}/stats`, l, sha, model.config.nInner);
  if (!m) throw new Error(`no ${momentFile(`${modelDir}/stats`, l)}: run backward-lens stats --layers ${l}`);
  return m.moment;
});
await editor.contexts('rome');
await editor.contexts('memit');

const top1 = async (prompts: string[]) => (await predictNext(model, tokenizer, prompts.map((p) => tokenizer.encode(p)), 1)).map((p) => p.top[0]!.id);
const localBefore = await top1(records.map((r) => r.locality_prompt));
console.log(`| spec | success | neighbourhood kept | value loss | s / edit |\n|---|---|---|---|---|`);
for (const text of values.specs!.split(',')) {
  const [method, ls, clamp, steps, lambda, lr, wd] = text.split(':');
  const [a, b] = ls!.split('-').map(Number);
  const layers = Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
  const spec: LocatedSpec = { method: method as 'rome' | 'memit', layers, lambda: Number(lambda ?? 20000), value: { ...ROME_VALUE, clampNormFactor: Number(clamp), steps: Number(steps), lr: Number(lr ?? ROME_VALUE.lr), weightDecay: Number(wd ?? ROME_VALUE.weightDecay) } };
  let success = 0;
  let kept = 0;
  let loss = 0;
  const started = performance.now();
  for (const [i, r] of records.entries()) {
    const result = await editor.apply(spec, [{ prompt: r.prompt, subject: r.subject, target: spaced(r.target_new) }]);
    const [after, local] = await top1([r.prompt, r.locality_prompt]);
    success += after === answerToken(tokenizer, r.prompt, r.target_new) ? 1 : 0;
    kept += local === localBefore[i] ? 1 : 0;
    loss += result.losses[0]!.at(-1)! / records.length;
    model.restore();
  }
  const seconds = (performance.now() - started) / 1000 / records.length;
  console.log(`| ${text} | ${success}/${records.length} | ${kept}/${records.length} | ${loss.toFixed(2)} | ${seconds.toFixed(0)} |`);
}
