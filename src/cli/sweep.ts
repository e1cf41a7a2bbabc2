// `backward-lens sweep`: App. G.1 / Fig. 24, the smallest learning rate that makes
// the edit succeed, per method and layer, with the perplexity it costs.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { selectRecords } from '../data/counterfact.ts';
import { modelEditor } from '../eval/editor.ts';
import type { EditKind } from '../eval/methods.ts';
import { summarizeSweep, sweep, SWEEP_BOUNDS, SWEEP_TOLERANCE } from '../eval/sweep.ts';
import { sweepSvg, sweepTable } from '../report/sweep.ts';
import { MODEL_OPTION, loadModel, parse, required, UsageError, type Command } from './common.ts';
import { defaultCounterFactFile, defaultWikitextFile, readRecordsFile, readWikitextRows } from './data.ts';
import { perplexityIds } from '../eval/score.ts';
import { writeTextAtomic } from './output-file.ts';
import { checkWritableDir } from './output-dir.ts';
import { relativeTo } from './relative-path.ts';
import { namesOf } from '../model/families/index.ts';

const KINDS: readonly EditKind[] = ['shift', 'sgd', 'adam'];
const b = (k: EditKind) => `${SWEEP_BOUNDS[k].lo}-${SWEEP_BOUNDS[k].hi}`;

const usage = `backward-lens sweep --out DIR [--model DIR|NAME] [--data FILE] [--records SPEC]
       [--methods shift,sgd,adam] [--layers 0-3] [--tolerance T] [--wikitext FILE]
       [--wikitext-rows N] [--no-perplexity]

For each record, method and layer: the smallest learning rate eta that makes the
first token of target_new the top-1 next token after the prompt (one forward pass
shift, one SGD step, one Adam step on that layer's FF2, ${namesOf('ff_out')}), by bisection on a
log scale, and the WikiText perplexity of the model edited at that eta (App. G.1,
Fig. 24). Bounds: shift ${b('shift')}, sgd ${b('sgd')}, adam ${b('adam')}; the upper
bound is tried first (no eta when it fails), then the lower (eta = lower bound when
it succeeds), then bisection until hi/lo <= 1 + T (or until no float64 lies
between them); the reported eta is hi.

  --records SPEC      as for eval (default 0-19: 20 of the default model's records)
  --methods LIST      any of shift, sgd, adam (default all three)
  --layers SPEC       0-3, 0,3 or 1-2,5 (default every layer)
  --tolerance T       relative tolerance of eta (default ${SWEEP_TOLERANCE})
  --wikitext-rows N   WikiText rows for the perplexity (default 100, as eval)
  --out DIR           writes DIR/sweep.json (every cell and the summary), DIR/sweep.md
                      (median and quartiles per method x layer) and DIR/sweep.svg

Example on the default model:
  backward-lens sweep --records 0-4 --layers 0,3 --wikitext-rows 10 --out runs/sweep`;

function layerList(spec: string, nLayer: number): number[] {
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`--layers "${spec}": "${part}" is not a layer or range a-b`);
    const [a, z] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (z < a) throw new UsageError(`--layers: range ${part} runs backwards`);
    if (z >= nLayer) throw new UsageError(`--layers: layer ${z} does not exist: this model has layers 0-${nLayer - 1}`);
    for (let l = a; l <= z; l++) out.add(l);
  }
  return [...out].sort((x, y) => x - y);
}

export const sweepCommand: Command = {
  summary: 'smallest successful learning rate per method and layer, with its perplexity (Fig. 24)',
  usage,
  async run(argv) {
    const s = { type: 'string' } as const;
    const { values: v } = parse(argv, { ...MODEL_OPTION, data: s, records: s, methods: s, layers: s, tolerance: s, wikitext: s, 'wikitext-rows': s, 'no-perplexity': { type: 'boolean' }, out: s }, usage);
    if (v.help) return void console.log(usage);
    const out = required(v.out, '--out');
    await checkWritableDir(out, '--out');
    const methods = (v.methods ?? KINDS.join(',')).split(',') as EditKind[];
    const unknown = methods.find((m) => !KINDS.includes(m));
    if (unknown !== undefined) throw new UsageError(`--methods: unknown method "${unknown}"; choose from ${KINDS.join(', ')}`);
    const twice = methods.find((m, i) => methods.indexOf(m) !== i);
    if (twice !== undefined) throw new UsageError(`--methods: ${twice} is given twice`);
    const tolerance = Number(v.tolerance ?? SWEEP_TOLERANCE);
    if (!(tolerance > 0 && tolerance < 10)) throw new UsageError(`--tolerance must be a number between 0 and 10, got "${v.tolerance}"`);
    const rowsWanted = Number(v['wikitext-rows'] ?? 100);
    if (!Number.isInteger(rowsWanted) || rowsWanted < 1) throw new UsageError(`--wikitext-rows must be a positive integer, got "${v['wikitext-rows']}"`);
    const dataFile = v.data ?? defaultCounterFactFile();
    const recordsSpec = v.records ?? '0-19';
    const selected = selectRecords(readRecordsFile(dataFile), recordsSpec);
    const wikitextFile = v.wikitext ?? defaultWikitextFile();
    const rows = v['no-perplexity'] ? undefined : readWikitextRows(wikitextFile, rowsWanted);
    const files = ['sweep.json', 'sweep.md', 'sweep.svg'].map((f) => join(out, f));
    const taken = files.find((f) => existsSync(f));
    if (taken) throw new UsageError(`--out ${out} already holds a sweep (${taken}); choose another directory`);

    const { model, tokenizer } = await loadModel(v.model);
    const layers = layerList(v.layers ?? `0-${model.config.nLayer - 1}`, model.config.nLayer);
    const texts = rows ? perplexityIds(tokenizer, rows) : undefined;
    const total = selected.length * methods.length * layers.length;
    const started = performance.now();
    let done = 0;
    const cells = await sweep(model, tokenizer, selected, { methods, layers, tolerance, ...(texts ? { perplexityTexts: texts } : {}) }, modelEditor(model, tokenizer), (c) => {
      done++;
      const perMin = done / ((performance.now() - started) / 60000);
      process.stderr.write(`${done}/${total} cells (record ${c.index}, ${c.method}, layer ${c.layer}: eta ${c.eta ?? 'none'}) | ${perMin.toFixed(1)} cells/min | ETA ${((total - done) / perMin).toFixed(1)} min\n`);
    });
    const summary = summarizeSweep(cells, methods, layers);
    const settings = { model: v.model ?? 'default', data: relativeTo(out, dataFile), records: recordsSpec, methods, layers, tolerance, bounds: Object.fromEntries(methods.map((m) => [m, SWEEP_BOUNDS[m]])), wikitextRows: texts?.length ?? 0 };
    const header = [`# Learning-rate sweep (App. G.1, Fig. 24): ${settings.model}`, '', `Records ${recordsSpec} of ${settings.data}; tolerance ${tolerance}; perplexity over ${settings.wikitextRows} WikiText rows.`, '', '```', `backward-lens sweep ${argv.join(' ')}`, '```'];
    if (!existsSync(out)) mkdirSync(out);
    await writeTextAtomic(files[0]!, `${JSON.stringify({ version: 1, ...settings, summary, cells }, null, 2)}\n`);
    await writeTextAtomic(files[1]!, sweepTable(summary, header));
    await writeTextAtomic(files[2]!, sweepSvg(summary));
    console.log(sweepTable(summary, []));
    console.log(`wrote ${files.join(', ')}`);
  },
};
