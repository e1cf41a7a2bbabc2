// `backward-lens study`: the paper's aggregate figures (§6, App. E) over many
// CounterFact or known-fact records: study.json, one SVG per figure, index.html;
// with --combine, Fig. 18 across several models' finished studies.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { studyDocument, type StudyDocument } from '../study/document.ts';
import { parseRecords, selectRecords } from '../study/records.ts';
import { runStudy } from '../study/run.ts';
import { excludedSetting } from '../lens/logit-lens.ts';
import { BadInputError } from '../errors.ts';
import { figurePage, renderStudyHtml, standaloneSvg, studyFigures, type Figure } from '../report/study.ts';
import { modelCurves, modelsFigure, type ModelStudy } from '../report/study-models.ts';
import { loadModel, MODEL_OPTION, modelInfo, parse, required, UsageError, type Command } from './common.ts';
import { defaultDataDir } from './data.ts';
import { parseModuleNames } from './analyze.ts';
import { checkOutputDir, writeDirAtomic } from './output-dir.ts';
import { writeTextAtomic } from './output-file.ts';
import { Progress } from './progress.ts';
import { relativeTo } from './relative-path.ts';
import { ROLES } from '../model/config.ts';
import { namesOf } from '../model/families/index.ts';

const usage = `backward-lens study --out DIR [options]

The paper's figures over many prompts (Katz et al. §6, App. E). Each record's
prompt is analysed with the Backward Lens (target = CounterFact's target_new, or
a known fact's attribute), its tokens labelled with ROME's segments from the
record's subject: first subject token, middle subject tokens, last subject token,
first subsequent token, further tokens, last token (and tokens before the subject).
A token may hold two labels, as in ROME: a one-token subject is its first and
last token. A subject occurring twice is located at its last occurrence; a
record whose subject is not in its prompt is skipped with a warning, and counted.

Per layer and module it computes:
  Fig. 4       the share of prompts whose gradient rank equals n (and rank − n)
  Figs. 6, 16  mean and median ‖δ_i‖ per layer × segment
  Fig. 17      mean and median ‖x_i‖ per layer × segment
  Fig. 7       the target's rank from the bottom of LL(δ_i) per layer × segment
               (attn_out and FF2; δ_i of norm 0 left out)
  Figs. 18-21  per layer, split by whether the model's answer was the true one:
               the target's and the original answer's rank in FF2's δ_n
               (from the bottom) and in FF1's x_n (from the top)

  --out DIR          writes DIR/study.json, DIR/*.svg, DIR/index.html (whole or not at all)
  --model DIR|NAME   config.json + model.safetensors (or its shards with their
                     index), or an embedded model by name:
                     default (GPT-2, used when absent) or llama-default
  --data FILE        CounterFact (EasyEdit layout) or ROME's known_1000.json
                     (default ../shared/data/counterfact/counterfact-train.json)
  --records SPEC     0-based record indices, e.g. 0-499 or 0,5,10-19; ids (case_id or
                     known_id) as case:2,3,8-12; or all
                     (default 0-999: the records the default model trained on)
  --modules LIST     default all: attn_in, attn_out, ff_in, ff_out (${ROLES.map(namesOf).join('; ')})
                     (Figs. 18-21 need both MLP modules)
  --normalized       normalized logit lens, LL(v/‖v‖) (App. F)
  --batch N          prompts per forward/backward pass (default 16)
  --force            let --out replace an existing, non-empty directory
  --replot           redraw DIR's figures and index.html from its study.json,
                     without running anything (after a change to the figures)
  --combine FILE     repeat for each model: Fig. 18 across models from their
                     study.json files (or the directories holding them), without
                     running anything: the target's median rank from the bottom of
                     FF2's δ_n over layer / L, as a share of the V ids ranked, one
                     curve per model. Writes DIR/fig18-models.svg, DIR/index.html and
                     DIR/combined.json (the plotted points)

Examples:
  backward-lens study --records 0-499 --out study/
  backward-lens study --combine gpt2-xl/study.json --combine llama2-7b/study.json --out fig18/`;

const OPTIONS = {
  ...MODEL_OPTION,
  out: { type: 'string' },
  data: { type: 'string' },
  records: { type: 'string' },
  modules: { type: 'string' },
  normalized: { type: 'boolean' },
  batch: { type: 'string' },
  force: { type: 'boolean' },
  replot: { type: 'boolean' },
  combine: { type: 'string', multiple: true },
} as const;

/** The options that run a study, which --combine (plotting finished ones) does not take. */
const RUN_OPTIONS = ['model', 'data', 'records', 'modules', 'normalized', 'batch', 'replot'] as const;

export const studyCommand: Command = {
  summary: "the paper's aggregate figures (Figs. 4, 6, 7, 16-21) over many CounterFact or known-fact records",
  usage,
  async run(argv) {
    const { values } = parse(argv, OPTIONS, usage);
    if (values.help) return void console.log(usage);
    const out = required(values.out, '--out');
    if (values.combine) {
      const given = RUN_OPTIONS.find((o) => values[o] !== undefined);
      if (given) throw new UsageError(`--${given} does not apply to --combine, which plots studies already run; run each model's study first, then combine their study.json files`);
      return combine(values.combine, out, values.force ?? false);
    }
    if (values.replot) return replot(out);
    const file = values.data ?? `${defaultDataDir()}/counterfact/counterfact-train.json`;
    const batch = Number(values.batch ?? 16);
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw new UsageError(`--batch "${values.batch}": choose a whole number of prompts per pass, 1-1024`);
    const modules = values.modules === undefined ? undefined : parseModuleNames(values.modules);
    await checkOutputDir(out, '--out', values.force ?? false);
    const { layout, records } = parseRecords(await readJson(file), file);
    // The default: the records the default model trained on, or all of a shorter file.
    const spec = values.records ?? `0-${Math.min(999, records.length - 1)}`;
    const selected = selectRecords(records, spec);

    const { model, tokenizer } = await loadModel(values.model);
    const started = performance.now();
    const progress = new Progress(selected.length);
    const outcome = await runStudy(model, tokenizer, selected, {
      ...(modules ? { modules } : {}),
      normalized: values.normalized ?? false,
      batch,
      warn: (s) => process.stderr.write(`backward-lens: warning: record ${s.index} (id ${s.id}) skipped: ${s.reason}\n`),
      progress: (done) => progress.update(done, 'records'),
    });
    progress.done();
    const [firstWarning] = outcome.tokenWarnings;
    if (firstWarning) process.stderr.write(`backward-lens: warning: ${outcome.tokenWarnings.length} of ${outcome.studied} studied records read differently from GPT-2 (counted in study.json as data.tokenWarnings); the first, record ${firstWarning.index}: ${firstWarning.warning}\n`);
    const seconds = (performance.now() - started) / 1000;
    const doc = studyDocument({
      model: modelInfo(values.model, model),
      data: { file: relativeTo(out, file), layout, records: spec, selected: selected.length, studied: outcome.studied, skipped: outcome.skipped, repeatedSubject: outcome.repeatedSubject, tokenWarnings: outcome.tokenWarnings.length },
      settings: { modules: outcome.modules, normalized: values.normalized ?? false, batch, ...excludedSetting(tokenizer.lensExcluded) },
      aggregates: outcome.aggregates,
      seconds,
    });
    const figures = await writeStudy(out, doc, values.force ?? false);
    const rate = (outcome.studied / seconds) * 60;
    process.stderr.write(`backward-lens: studied ${outcome.studied} records (${outcome.skipped.length} skipped) in ${seconds.toFixed(1)} s, ${rate.toFixed(0)} records/min; wrote ${out}/study.json, ${figures.length} SVG figures, index.html\n`);
  },
};

async function writeStudy(out: string, doc: StudyDocument, replace: boolean): Promise<Figure[]> {
  const figures = studyFigures(doc);
  await writeDirAtomic(out, [
    { name: 'study.json', text: `${JSON.stringify(doc, null, 1)}\n` },
    ...figures.map((f) => ({ name: f.file, text: standaloneSvg(f.svg) })),
    { name: 'index.html', text: renderStudyHtml(doc, figures) },
  ], replace);
  return figures;
}

/** The figures again from study.json; other files in DIR (a README) are kept. */
async function replot(out: string): Promise<void> {
  const doc = (await readJson(join(out, 'study.json'), '--out')) as StudyDocument;
  if (doc?.version !== 1 || !doc.aggregates) throw new BadInputError(`--out ${out}: study.json is not a study of this version`);
  const figures = studyFigures(doc);
  const old = (await readdir(out)).filter((f) => f.endsWith('.svg'));
  for (const f of old) await rm(join(out, f));
  for (const f of figures) await writeTextAtomic(join(out, f.file), standaloneSvg(f.svg));
  await writeTextAtomic(join(out, 'index.html'), renderStudyHtml(doc, figures));
  process.stderr.write(`backward-lens: redrew ${figures.length} SVG figures and index.html in ${out}\n`);
}

/** Fig. 18 across models from finished studies; each is read and checked before anything is written. */
async function combine(files: readonly string[], out: string, replace: boolean): Promise<void> {
  const studies: ModelStudy[] = [];
  for (const given of files) {
    const file = (await stat(given).then((s) => s.isDirectory(), () => false)) ? join(given, 'study.json') : given;
    const doc = (await readJson(file, '--combine')) as StudyDocument;
    if (doc?.version !== 1 || !doc.aggregates || !doc.model) throw new BadInputError(`--combine ${file}: not a study.json of this version; give the study.json that study --out wrote`);
    if (!doc.aggregates.lastToken) throw new BadInputError(`--combine ${file}: the study has no FF2 δ_n ranks (Figs. 18-21); run study again with both MLP modules (no --modules, or one that lists ff_in and ff_out)`);
    studies.push({ label: doc.model.source === 'default' ? 'default model' : basename(doc.model.source), doc });
  }
  // Two models of one name (checkpoints in folders called "model") are told apart by their files.
  const named = studies.map((s, i) => (studies.filter((o) => o.label === s.label).length > 1 ? { ...s, label: `${s.label} (${files[i]})` } : s));
  await checkOutputDir(out, '--out', replace);
  const curves = modelCurves(named);
  const figure = modelsFigure(curves);
  await writeDirAtomic(out, [
    { name: figure.file, text: standaloneSvg(figure.svg) },
    { name: 'index.html', text: figurePage('Backward Lens: Fig. 18 across models', 'Fig. 18 across models', `${curves.length} studies: ${files.join(', ')}.`, [figure]) },
    { name: 'combined.json', text: `${JSON.stringify({ version: 1, figure: 'Fig. 18', x: 'layer / nLayer', y: 'median rank from the bottom of LL(δ_n) of FF2 / ranked', models: curves }, null, 1)}\n` },
  ], replace);
  process.stderr.write(`backward-lens: wrote ${out}/${figure.file}, index.html and combined.json (${curves.length} models)\n`);
}

async function readJson(file: string, flag = '--data'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new BadInputError(`${flag} ${file}: cannot read: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadInputError(`${flag} ${file}: not valid JSON (${(e as Error).message})`);
  }
}
