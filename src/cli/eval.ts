// `backward-lens eval` and `eval-merge`: the CounterFact benchmark of SPEC §5 over a
// selection of records and one or more methods, resumable and shardable.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { selectRecords } from '../data/counterfact.ts';
import { LocatedEditor } from '../edit/located/editor.ts';
import { AUTHORS_VALUES, locatedDefaults } from '../edit/located/rome-hparams.ts';
import { modelEditor, type LocatedSetup } from '../eval/editor.ts';
import { checkLayers, METHOD_SYNTAX, parseMethod, type MethodDefaults, type MethodSpec } from '../eval/methods.ts';
import { runEvaluation, type EvalLine } from '../eval/run.ts';
import { shardItems, ONE_SHARD } from '../eval/shards.ts';
import { parseShard } from './shard.ts';
import { decode } from '../model/decode.ts';
import { editDefaults } from '../edit/defaults.ts';
import { readModelConfig } from '../model/load-node.ts';
import { MODEL_OPTION, loadModel, parse, required, UsageError, type Command, modelPath, isDefaultModel } from './common.ts';
import { CORPUS_NOTE, layerMoments } from './moments.ts';
import { defaultCounterFactFile, defaultWikitextFile, readRecordsFile, readWikitextRows } from './data.ts';
import { perplexityIds } from '../eval/score.ts';
import { appendLine, doneKeys, finishedFiles, hasRecords, readLines, readRun, sameEvaluation, selectionKeys, sortLines, startDir, writeSummary, type RunInfo } from './eval-dir.ts';
import { lockDir } from './dir-lock.ts';
import { checkWritableDir, writeDirAtomic } from './output-dir.ts';

/** The default model trained on the first 1,000 records of counterfact-train.json. */
const DEFAULT_RECORDS = '0-999';

const usage = `backward-lens eval --method SPEC [--method SPEC ...] --out DIR [--model DIR|NAME] [--data FILE]
       [--records SPEC] [--resume] [--shard i/N | --shard auto [--shards N]] [--seed S]
       [--wikitext FILE] [--no-generation] [--no-perplexity] [--cache DIR]

For each selected CounterFact record and each method: edit the model, measure,
restore. Metrics (SPEC §5): efficacy, paraphrase and neighborhood (top-1 of the
answer's first token, and the full-target form), ROME's ES / PS / NS with their
probability gaps, n-gram entropy of seeded top-k 5 generations (100 tokens with the
prompt, capped by the context) and WikiText perplexity (first 100 rows of at least
30 characters, 256 tokens or the context).

  --method SPEC   ${METHOD_SYNTAX}
                  layers: one layer, a range a-b, or a+b; repeat --method to compare
                  several methods on the same records and unedited model.
                  Parameters left out (shift, sgd: layers, lr; adam: layers; rome:
                  layer; memit: layers) come from the model's documented defaults
                  where it has them (the embedded model, gpt2-xl), as in edit; the
                  label then holds them and run.json's "defaults" says which.
                  rome:layer=L   ROME at one layer (docs/rome-memit.md)
                  memit:layers=A-B[,batch=N][,lambda=λ]   MEMIT over the layers; with
                  batch=N, N consecutive records of the selection are edited at
                  once and each is measured on the batch-edited model (perplexity
                  once per batch); λ (mom2_update_weight) defaults to the model's
                  table (20000 as MEMIT's GPT-2 XL file)
  --cache DIR     rome/memit: second-moment statistics (default stats/ beside the
                  model; collected on first use from --wikitext: ${CORPUS_NOTE})
  --records SPEC  file indexes (0-based, inclusive): 0-99 or 0-9,50; or case_ids:
                  case:2,3,8-12. Default ${DEFAULT_RECORDS}: the records the default
                  model was trained on (the first 1,000 of counterfact-train.json)
  --data FILE     CounterFact JSON (default ../shared/data/counterfact/counterfact-train.json)
  --wikitext FILE wiki.test.raw (default ../shared/data/wikitext-2-raw/wiki.test.raw)
  --out DIR       writes DIR/run.json, DIR/records.jsonl (one line per record and
                  method, every metric and the generated texts), DIR/summary.json and
                  DIR/table.md (mean ± population std per method, Tables 6-7 layout).
                  One run at a time per DIR (DIR/.lock); an edit whose eta overflows
                  float32 is a line with "failed" and no metrics
  --resume        continue a run in DIR: finished lines are kept (each must be a
                  record and method of this run, once), the rest is done.
                  Without it, a DIR that holds a run is refused
  --shard i/N     evaluate every N-th selected record, from the i-th (0-based);
                  merge the shards' directories with eval-merge
  --shard auto    i and N from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or from
                  JOB_COMPLETION_INDEX and --shards N (Kubernetes indexed Job)
  --seed S        seed of the generations (default 0); each record's generations are
                  seeded by S and its case_id, so shards and resumes agree
  --no-generation, --no-perplexity   skip those metrics (faster)

Examples on the default model:
  backward-lens eval --records 0-9 --method original --method shift:layers=3,lr=0.5 --out runs/a
  backward-lens eval --records 0-99 --method original --shard 0/4 --out runs/s0 --no-perplexity`;

export interface EvalArgs {
  methods: MethodSpec[];
  out: string;
  info: Omit<RunInfo, 'expectedLines'>;
  dataFile: string;
  wikitextFile: string;
  resume: boolean;
}

function seedOf(v: string | undefined): number {
  if (v === undefined) return 0;
  const x = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(x)) throw new UsageError(`--seed must be a non-negative integer, got "${v}"`);
  return x;
}

export const evalCommand: Command = {
  summary: 'CounterFact evaluation of edit methods (efficacy, paraphrase, neighborhood, fluency, perplexity)',
  usage,
  async run(argv) {
    const s = { type: 'string' } as const;
    const b = { type: 'boolean' } as const;
    const { values: v } = parse(argv, { ...MODEL_OPTION, data: s, wikitext: s, records: s, method: { type: 'string', multiple: true }, out: s, cache: s, resume: b, shard: s, shards: s, seed: s, 'no-generation': b, 'no-perplexity': b }, usage);
    if (v.help) return void console.log(usage);
    if (!v.method?.length) throw new UsageError('give at least one --method (e.g. --method original)');
    const defaults = await methodDefaults(v.model);
    const methods = v.method.map((m) => parseMethod(m, defaults));
    const dup = methods.find((m, i) => methods.findIndex((x) => x.label === m.label) !== i);
    if (dup) throw new UsageError(`--method ${dup.label} is given twice`);
    const out = required(v.out, '--out');
    await checkWritableDir(out, '--out');
    if (v.shards !== undefined && v.shard !== 'auto') throw new UsageError('--shards N goes with --shard auto (Kubernetes indexed Jobs)');
    const shard = v.shard === undefined ? ONE_SHARD : parseShard(v.shard, process.env, v.shards);
    const dataFile = v.data ?? defaultCounterFactFile();
    const recordsSpec = v.records ?? DEFAULT_RECORDS;
    const selected = shardItems(selectRecords(readRecordsFile(dataFile), recordsSpec), shard);
    if (selected.length === 0) throw new UsageError(`shard ${shard.index}/${shard.count} of --records ${recordsSpec} holds no records; use fewer shards`);
    const perplexityOn = !v['no-perplexity'];
    const wikitextFile = v.wikitext ?? defaultWikitextFile();
    const wikiRows = perplexityOn ? readWikitextRows(wikitextFile) : [];
    const info: RunInfo = {
      version: 1, model: v.model ?? 'default', data: dataFile, records: recordsSpec, methods: methods.map((m) => m.label),
      seed: seedOf(v.seed), generation: !v['no-generation'], perplexity: perplexityOn, shard, expectedLines: selected.length * methods.length,
      ...defaultedMethods(methods),
    };
    const allowed = selectionKeys(selected.map((s) => s.index), info.methods);
    // Checked now to fail fast, and again under the directory's lock before anything is written.
    const checkDir = (repair: boolean) => {
      if (!v.resume && hasRecords(out)) throw new UsageError(`--out ${out} already holds an evaluation; pass --resume to continue it or choose another directory`);
      const previous = readRun(out);
      if (v.resume && previous) {
        const diff = sameEvaluation(previous, info) ?? (JSON.stringify(previous.shard) !== JSON.stringify(info.shard) ? 'shard' : undefined);
        if (diff) throw new UsageError(`--resume: ${out} holds a run with another ${diff} (${JSON.stringify(previous[diff as keyof RunInfo])}); repeat that run's options`);
      }
      return v.resume ? readLines(out, repair, allowed) : [];
    };
    checkDir(false);

    const loadedModel = await loadModel(v.model);
    const { model, tokenizer } = loadedModel;
    methods.forEach((m) => checkLayers(m, model.config.nLayer));
    const located = await locatedSetup(loadedModel, methods, { model: v.model, ...(v.cache === undefined ? {} : { cache: v.cache }), data: wikitextFile, dataFlag: '--wikitext' }, seedOf(v.seed));
    const texts = perplexityOn ? perplexityIds(tokenizer, wikiRows) : undefined;
    if (!existsSync(out)) mkdirSync(out);
    lockDir(out, '--out');
    const lines = checkDir(true);
    await startDir(out, info);
    const done = doneKeys(lines);
    const total = info.expectedLines;
    let finished = lines.length;
    const started = performance.now();
    const startCount = finished;
    process.stderr.write(`backward-lens: ${selected.length} records x ${methods.length} methods; ${finished} lines already done\n`);
    await runEvaluation(model, tokenizer, selected, methods, modelEditor(model, tokenizer, located), {
      seed: info.seed, generation: info.generation, generate: (m, prompts, o) => decode(m, prompts, o), ...(texts ? { perplexityTexts: texts } : {}),
    }, done, async (line: EvalLine) => {
      appendLine(out, line);
      lines.push(line);
      finished++;
      const minutes = (performance.now() - started) / 60000;
      const rate = (finished - startCount) / methods.length / minutes;
      const eta = ((total - finished) / methods.length) / rate;
      process.stderr.write(`${finished}/${total} lines (${(finished / methods.length).toFixed(1)} records) | ${rate.toFixed(1)} records/min | ETA ${eta.toFixed(1)} min\n`);
    });
    await writeSummary(out, info, sortLines(lines, info.methods), `backward-lens eval ${argv.join(' ')}`);
    console.log(`wrote ${out}/records.jsonl, ${out}/summary.json, ${out}/table.md`);
  },
};

/** The documented defaults of the model about to load (the embedded one, or one shaped like gpt2-xl), read from its config.json. */
async function methodDefaults(model: string | undefined): Promise<MethodDefaults> {
  const config = await readModelConfig(modelPath(model));
  if (!config) return {};
  return { edit: editDefaults(config, isDefaultModel(model)), located: locatedDefaults(config, isDefaultModel(model)) };
}

/** run.json's record of the parameters defaults filled in, per method label; nothing when none were. */
function defaultedMethods(methods: readonly MethodSpec[]): Pick<RunInfo, 'defaults'> {
  const filled = methods.flatMap((m) => ('defaulted' in m && m.defaulted ? [[m.label, m.defaulted] as const] : []));
  return filled.length ? { defaults: Object.fromEntries(filled) } : {};
}

/** ROME/MEMIT's statistics for every layer they edit (cached or collected now, before any record), or undefined without them. */
async function locatedSetup(loaded: Parameters<typeof layerMoments>[0], methods: readonly MethodSpec[], opts: Parameters<typeof layerMoments>[2], seed: number): Promise<LocatedSetup | undefined> {
  const layers = [...new Set(methods.flatMap((m) => (m.kind === 'rome' || m.kind === 'memit' ? m.layers : [])))].sort((a, b) => a - b);
  if (layers.length === 0) return undefined;
  const moments = await layerMoments(loaded, layers, opts);
  const editor = new LocatedEditor(loaded.model, loaded.tokenizer, async (l) => moments.get(l)!.moment, seed);
  const d = locatedDefaults(loaded.model.config, isDefaultModel(opts.model)) ?? AUTHORS_VALUES;
  return { editor, memitLambda: d.memitLambda, romeValue: d.romeValue, memitValue: d.memitValue };
}

const mergeUsage = `backward-lens eval-merge DIR... --out DIR

Combines the directories of an evaluation's shards (eval --shard i/N) into one
records.jsonl, summary.json and table.md, the same as one unsharded run gives.
Every shard 0..N-1 must be present and finished, each line one of its shard's
records and methods, once (the CounterFact file named in run.json is read to
check). --out is written whole or not at all.

Example:
  backward-lens eval-merge runs/s0 runs/s1 runs/s2 --out runs/all`;

export const evalMergeCommand: Command = {
  summary: 'merge the shards of an eval run into one summary and table',
  usage: mergeUsage,
  async run(argv) {
    const { values: v, positionals } = parse(argv, { out: { type: 'string' } }, mergeUsage, true);
    if (v.help) return void console.log(mergeUsage);
    const out = required(v.out, '--out');
    if (positionals.length === 0) throw new UsageError('name the shard directories to merge');
    await checkWritableDir(out, '--out');
    if (readRun(out) || hasRecords(out)) throw new UsageError(`--out ${out} already holds an evaluation; choose another directory`);
    if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--out ${out} exists and is not empty; choose another directory`);
    const runs = positionals.map((dir) => {
      const info = readRun(dir);
      if (!info) throw new UsageError(`${dir} holds no evaluation (no run.json)`);
      return { dir, info };
    });
    const first = runs[0]!.info;
    for (const r of runs) {
      const diff = sameEvaluation(first, r.info);
      if (diff) throw new UsageError(`${r.dir} is another evaluation: its ${diff} differs from ${runs[0]!.dir}'s`);
      if (r.info.shard.count !== first.shard.count) throw new UsageError(`${r.dir} is shard ${r.info.shard.index}/${r.info.shard.count}, ${runs[0]!.dir} is one of ${first.shard.count}`);
    }
    const seen = new Set<number>();
    for (const r of runs) {
      if (seen.has(r.info.shard.index)) throw new UsageError(`shard ${r.info.shard.index}/${first.shard.count} is given twice (${r.dir})`);
      seen.add(r.info.shard.index);
    }
    const missing = Array.from({ length: first.shard.count }, (_, i) => i).filter((i) => !seen.has(i));
    if (missing.length) throw new UsageError(`shards ${missing.map((i) => `${i}/${first.shard.count}`).join(', ')} are missing`);
    // Each shard's lines are checked against its own share of the selection, so a line
    // copied from another shard or record cannot stand in for a missing one.
    const records = readRecordsFile(first.data, `the shards' run.json names it; run eval-merge where that path holds the CounterFact file`);
    const selected = selectRecords(records, first.records);
    const lines = runs.flatMap((r) => {
      const keys = selectionKeys(shardItems(selected, r.info.shard).map((x) => x.index), r.info.methods);
      const ls = readLines(r.dir, false, keys);
      if (ls.length < keys.size) throw new UsageError(`${r.dir} is unfinished (${ls.length} of ${keys.size} lines); finish it with eval --resume`);
      return ls;
    });
    const info: RunInfo = { ...first, shard: ONE_SHARD, expectedLines: lines.length };
    // One directory swapped in whole: a failed write (a full disk) leaves no file behind.
    await writeDirAtomic(out, finishedFiles(info, sortLines(lines, info.methods), `backward-lens eval-merge ${argv.join(' ')}`), true);
    console.log(`merged ${runs.length} shards (${lines.length} lines) into ${out}`);
  },
};
