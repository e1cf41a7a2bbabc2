// `backward-lens edit`: one edit (or a batch of pairs edited at once) with what the
// model says before and after, the size of each weight change, and optionally the
// edited model as a Hugging Face directory. Every input is checked before the work.
import { describeDefaults, editDefaults } from '../edit/defaults.ts';
import { checkSpec, edit } from '../edit/edit.ts';
import { look, type Side } from '../edit/look.ts';
import { renderChanges, renderPairs, renderRounding } from '../report/edit.ts';
import { EDIT_METHODS, type EditResult, type EditSpec } from '../edit/types.ts';
import { BadInputError } from '../errors.ts';
import { preparePair } from '../pass/prepare.ts';
import { saveModelDir } from '../model/save-node.ts';
import { expandLayers, parseLayers, parseModuleNames, readPairsOption } from './analyze.ts';
import { capTokens, MODEL_OPTION, loadModel, modelInfo, oneOf, parse, reportWarnings, UsageError, type Command, modelPath, isDefaultModel } from './common.ts';
import { editLocated, isLocated, unsavedNote } from './edit-located.ts';
import { checkOutputDir } from './output-dir.ts';
import { OutputSet, textWriter } from './output-file.ts';
import { ROLES } from '../model/config.ts';
import { namesOf } from '../model/families/index.ts';

const usage = `backward-lens edit --prompt TEXT --target TEXT --method shift|sgd|adam [options]
backward-lens edit --prompt TEXT --subject TEXT --target TEXT --method rome:layer=L|memit:layers=A-B [options]
backward-lens edit --pairs FILE.jsonl --method ... [options]

Edits the model so that it answers TARGET after PROMPT (paper §7, App. G), then
shows the next-token top-5 and the target's rank and probability before and after,
the norm of each weight change, and a greedy continuation before and after.

Methods:
  shift  forward pass shift: one forward pass, no gradient. x_n = FF2's input at
         the last prompt token (width f: GPT-2's 4d), e = D[t], the unembedding row of
         the target's first token (the row whose dot product is t's logit: wte[t] when
         the head is tied, as GPT-2's; lm_head.weight[t] when not, as Llama's);
         FF2's weight gets W += eta x_n ⊗ e (bias untouched). Nothing changes when
         the target already is the top-1 next token. --steps N repeats the pass and
         the shift until the target is top-1, at most N passes.
  sgd    --steps N (default 1) steps W <- W - eta XᵀΔ straight from the gradient's
         factors, on --modules (default ff_out, ${namesOf('ff_out')}) of each layer.
  adam   MEMIT's fine-tuning baseline: Adam (eta default 5e-4, no weight decay) on
         FF2's weight and bias (the weight alone where FF2 has no bias, as Llama's
         down_proj), up to --steps (default 25) steps; as MEMIT's
         ft_main, the loss is measured first and the run stops, without stepping,
         once it is below 1e-2.
  rome   ROME (Meng et al. 2022) at one layer: rome:layer=L (plain "rome": the
         model's table). Needs --subject: its last token is where the fact is
         read; the statistics of FF2's input come from the cache (backward-lens
         stats; collected on first use). Hyperparameters: docs/rome-memit.md.
  memit  MEMIT (Meng et al. 2023) over layers: memit:layers=A-B[,lambda=λ];
         several --pairs are one batched edit. Both refuse a value written at
         the model's last layer (ROME's L, MEMIT's B): no layer above it carries
         the subject to the end of the prompt, so the edit would change nothing.
The loss of sgd and adam is the NLL of the target's first token after the prompt
(--target-tokens all: every target token, teacher-forced). Several pairs (--pairs)
are one batched edit: one pass, the sum of their updates.

  --prompt TEXT         the prompt
  --target TEXT         the new answer (GPT-2 words start with a space: " Paris")
  --pairs FILE.jsonl    instead: one {"prompt": ..., "target": ...} per line, edited at once
  --method NAME         shift, sgd, adam, rome:layer=L (or rome) or memit:layers=A-B
  --layers LIST         layers to edit, e.g. 2 or 1,3 or 0-3 (default: the model's, below)
  --lr ETA              learning rate eta > 0 (default: the model's, below)
  --steps N             see the methods (>= 1)
  --modules LIST        sgd only, by role (attn_in, attn_out, ff_in, ff_out = ff2: all its
                        modules), ff1 (the paper's FF1) or checkpoint name (${ROLES.map(namesOf).join('; ')}):
                        a stored module alone (mlp.up_proj: not gate_proj)
  --target-tokens all   sgd/adam: teacher-force every target token
  --subject TEXT        rome/memit: the subject, as it occurs in the prompt
  --cache DIR           rome/memit: statistics directory (default stats/ beside the model)
  --tokens N            length of the greedy continuations (default 20; 0 for none;
                        at most the model's context)
  --model DIR|NAME      config.json + model.safetensors (or its shards with their
                        index), or an embedded model by name:
                        default (GPT-2, used when absent) or llama-default
  --out DIR             write the edited model there as a Hugging Face directory of the
                        source's family (config.json + model.safetensors, the source's tensor
                        names, its tokenizer files copied; edited matrices in F32, the
                        others in the source's dtype)
  --dtype f32|source    with --out: write edited matrices of an F16/BF16 model in F32
                        (default) or rounded to the source's dtype, saying how much the
                        rounding changed each edit
  --force               let --out replace an existing, non-empty directory
  --json FILE           every number printed, for scripts
  --strict              refuse, instead of warning about, text the model's vocabulary
                        can only spell in byte tokens

Defaults for --layers and --lr: ${describeDefaults()}

Exit code 2 and one line for bad input; nothing is written unless the edit succeeds.

Examples:
  backward-lens edit --prompt "Michel Denisot spoke the language" --target " Russian" --method shift
  backward-lens edit --prompt "Michel Denisot spoke the language" --target " Russian" --method sgd --lr 1 --layers 3
  backward-lens edit --pairs edits.jsonl --method shift --out edited-model --json edit.json`;

const OPTIONS = {
  ...MODEL_OPTION,
  prompt: { type: 'string' },
  target: { type: 'string' },
  pairs: { type: 'string' },
  method: { type: 'string' },
  layers: { type: 'string' },
  lr: { type: 'string' },
  steps: { type: 'string' },
  modules: { type: 'string' },
  'target-tokens': { type: 'string' },
  tokens: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  dtype: { type: 'string' },
  json: { type: 'string' },
  strict: { type: 'boolean' },
  subject: { type: 'string' },
  cache: { type: 'string' },
} as const;


export const editCommand: Command = {
  summary: 'edit the model (forward pass shift, SGD, Adam) and show what it says before and after',
  usage,
  async run(argv) {
    const { values } = parse(argv, OPTIONS, usage);
    if (values.help) return void console.log(usage);
    const pairs = await readPairsOption(values);
    const dtype = oneOf(values.dtype, '--dtype', ['f32', 'source'] as const, 'f32');
    if (values.dtype !== undefined && values.out === undefined) throw new UsageError('--dtype says how --out writes edited matrices: give --out DIR too');
    if (values.method === undefined) throw new UsageError(`--method is required: ${EDIT_METHODS.join(', ')}, rome:layer=L or memit:layers=A-B`);
    if (isLocated(values.method)) {
      const foreign = (['lr', 'steps', 'modules', 'target-tokens'] as const).filter((o) => values[o] !== undefined).map((o) => `--${o}`);
      if (values.layers !== undefined) foreign.push('--layers (give them in --method: rome:layer=L, memit:layers=A-B)');
      const tokens = values.tokens === undefined ? 20 : parseCount(values.tokens, '--tokens', 0);
      return editLocated({ method: values.method, model: values.model, pairs, subject: values.subject, cache: values.cache, tokens, out: values.out, dtype, force: values.force ?? false, json: values.json, foreign });
    }
    if (values.subject !== undefined || values.cache !== undefined) throw new UsageError('--subject and --cache go with --method rome:... or memit:...');
    if (!(EDIT_METHODS as readonly string[]).includes(values.method)) throw new UsageError(`--method must be one of ${EDIT_METHODS.join(', ')}, rome:layer=L, memit:layers=A-B, got "${values.method}"`);
    const method = values.method as EditSpec['method'];
    const lr = values.lr === undefined ? undefined : parseNumber(values.lr, '--lr');
    const steps = values.steps === undefined ? undefined : parseCount(values.steps, '--steps', 1);
    const tokens = values.tokens === undefined ? 20 : parseCount(values.tokens, '--tokens', 0);
    const layerRanges = values.layers === undefined ? undefined : parseLayers(values.layers);
    const modules = values.modules === undefined ? undefined : parseModuleNames(values.modules);
    const targetTokens = oneOf(values['target-tokens'], '--target-tokens', ['first', 'all'] as const, 'first');
    const files = await OutputSet.check([['--json', values.json]]);
    if (values.out !== undefined) await checkOutputDir(values.out, '--out', values.force ?? false);

    const { model, tokenizer } = await loadModel(values.model);
    const defaults = editDefaults(model.config, isDefaultModel(values.model));
    const layers = layerRanges ? expandLayers(layerRanges, model.config.nLayer) : defaults?.layers;
    if (!layers) throw new UsageError('--layers is required for this model (documented defaults exist for the embedded model and gpt2-xl)');
    const eta = lr ?? defaults?.lr[method];
    if (eta === undefined && method !== 'adam') throw new UsageError(`--lr is required for ${method} on this model (documented defaults exist for the embedded model and gpt2-xl)`);
    const stepCount = steps ?? (lr === undefined ? defaults?.steps?.[method] : undefined);
    const spec: EditSpec = { method, layers, ...(eta !== undefined ? { lr: eta } : {}), ...(stepCount !== undefined ? { steps: stepCount } : {}), ...(modules ? { modules } : {}), targetTokens };
    checkSpec(model, spec);
    for (const p of pairs) {
      let warnings: string[];
      try {
        ({ warnings } = preparePair(model, tokenizer, p.prompt, p.target, targetTokens));
      } catch (e) {
        if (e instanceof BadInputError && p.where) throw new BadInputError(`${p.where}: ${e.message}`);
        throw e;
      }
      reportWarnings(warnings, values.strict ?? false, p.where);
    }

    const continuation = capTokens(tokens, model.config.nPositions);
    const before = await look(model, tokenizer, pairs, continuation);
    const started = performance.now();
    const result = await edit(model, tokenizer, pairs, spec);
    const seconds = (performance.now() - started) / 1000;
    const after = await look(model, tokenizer, pairs, continuation);
    process.stdout.write(`${render(result, pairs, before, after, seconds, defaults && lr === undefined ? defaults.source : undefined, values.out !== undefined)}\n`);

    // The JSON is staged first and renamed only once the model directory is in place: both or neither.
    try {
      if (values.json !== undefined) {
        const doc = {
          version: 1,
          model: modelInfo(values.model, model),
          ...result,
          seconds,
          pairs: pairs.map((p, i) => ({ prompt: p.prompt, target: p.target, shifts: result.shifts[i], before: before[i], after: after[i] })),
        };
        await files.stage(values.json, textWriter(`${JSON.stringify(doc, null, 2)}\n`));
      }
      if (values.out !== undefined) {
        const rounded = await saveModelDir(model, modelPath(values.model), values.out, { replace: values.force ?? false, dtype, metadata: { backward_lens_edit: JSON.stringify({ ...result.spec, pairs: pairs.map(({ prompt, target }) => ({ prompt, target })) }) } });
        process.stderr.write(`backward-lens: wrote the edited model to ${values.out}\n${renderRounding(rounded)}`);
      }
      await files.commit();
      if (values.json !== undefined) process.stderr.write(`backward-lens: wrote ${values.json} (json)\n`);
    } finally {
      await files.discard();
    }
  },
};

function render(result: EditResult, pairs: readonly { prompt: string; target: string }[], before: Side[], after: Side[], seconds: number, defaultsSource: string | undefined, saved: boolean): string {
  const s = result.spec;
  const what = s.method === 'shift' ? `${result.steps} forward pass${result.steps === 1 ? '' : 'es'}` : `${result.steps} step${result.steps === 1 ? '' : 's'}, loss ${result.losses.map((l) => l.toPrecision(3)).join(' → ')}`;
  const modules = s.method === 'sgd' ? ` ${s.modules.join(', ')}` : '';
  const head = `${s.method}${modules} at layer${s.layers.length > 1 ? 's' : ''} ${s.layers.join(', ')}, eta ${s.lr}: ${what} in ${seconds.toFixed(2)} s${defaultsSource ? ` (defaults from ${defaultsSource})` : ''}`;
  const notes = pairs.map((_, i) => (s.method === 'shift' && result.shifts[i] === 0 ? ' (already the top-1 answer: not shifted)' : ''));
  return [head, ...renderPairs(pairs, before, after, notes), ...renderChanges(result.changes), ...unsavedNote(saved)].join('\n');
}

function parseNumber(value: string, flag: string): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x)) throw new UsageError(`${flag} "${value}" is not a number`);
  if (x <= 0) throw new UsageError(`${flag} ${value}: eta must be > 0`);
  return x;
}

function parseCount(value: string, flag: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} "${value}": give a whole number >= ${min}`);
  return Number(value);
}
