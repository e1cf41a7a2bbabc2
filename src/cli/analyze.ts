// `backward-lens analyze`: the analysis of src/lens/analyze.ts for one pair or a
// JSONL batch, reported as a terminal grid and optionally JSON, HTML and factors.
// Every input is checked before the analysis runs, so bad input fails in seconds.
import { readFile } from 'node:fs/promises';
import { analyzePass, settingsFor, type AnalyzeOptions, type PromptTarget } from '../lens/analyze.ts';
import { GradientPass } from '../pass/pass.ts';
import type { Analysis } from '../lens/types.ts';
import { factorTensors } from '../lens/factor-export.ts';
import { layersIn, parseRanges, type Range } from '../data/ranges.ts';
import { BadInputError } from '../errors.ts';
import { preparePair, type PreparedPair } from '../pass/prepare.ts';
import { ROLES } from '../model/config.ts';
import { MODULE_NAMES, roleNamed } from '../model/families/index.ts';
import { writeSafetensorsNew } from '../model/node-file.ts';
import type { TensorToWrite } from '../model/safetensors.ts';
import { gridsSvg } from '../report/grid-svg.ts';
import { htmlChunks } from '../report/html.ts';
import { jsonChunks, report } from '../report/json.ts';
import type { NeuronView } from '../lens/neurons/types.ts';
import { neuronView } from '../lens/neurons/view.ts';
import { parseNeuronSpec } from './neurons-spec.ts';
import { formatNeuronView } from '../report/neurons.ts';
import { renderTerminal, type ColorMode } from '../report/terminal.ts';
import { MODEL_OPTION, loadModel, modelInfo, oneOf, parse, reportWarnings, UsageError, type Command } from './common.ts';
import { OutputSet, textWriter } from './output-file.ts';
import { Progress } from './progress.ts';
import { FF1_NAMES, namesOf } from '../model/families/index.ts';

const usage = `backward-lens analyze --prompt TEXT --target TEXT [options]
backward-lens analyze --pairs FILE.jsonl [options]

The Backward Lens (Katz et al., §4-5) of one edit: the gradient that would teach
the model to answer TARGET after PROMPT, read in the vocabulary. One forward and
backward pass; the loss is the NLL of the target's first token at the last prompt
token. For a linear layer z = xW over the prompt's n tokens the weight gradient
is XᵀΔ = Σ_i x_iᵀ δ_i: x_i is the layer's input at token i, δ_i = ∂L/∂z_i its VJP.
The logit lens LL(v) = softmax(norm(v)·D) (the final norm, then the unembedding D) reads any d-dimensional x_i or δ_i as
a distribution over tokens.

The grids (rows = layers, the last layer on top; columns = prompt tokens):
  FF2 (${namesOf('ff_out')})  each cell is the LEAST probable token of LL(δ_i): the update
                    subtracts δ_i, so that is what it writes into FF2 (§5.2).
  FF1 (${FF1_NAMES})    each cell is the most probable token of LL(x_i).
  A cell's shade is that module's ‖δ_i‖ (white: the token barely moves the
  weights). The target is marked *like this* without colour, bold with it.
Below the grids: the loss, the model's own answer and the target's probability,
and per layer the target's rank in FF2's δ_n (last token, from the least
probable: 1 means the update writes the target in) and each module's exact
gradient rank (at most n; 1 in the last layer's MLP and attention output).
With a tokenizer.json, the lens lists and ranks no special token (<s>, </s>) and
no vocabulary row the tokenizer lacks (vocab_size above its size); a target that
is itself special is still ranked among the others. GPT-2 keeps <|endoftext|>.

  --prompt TEXT           the prompt
  --target TEXT           the new answer (GPT-2 words start with a space: " Paris")
  --pairs FILE.jsonl      instead: one {"prompt": ..., "target": ...} per line, in
                          batches of 16 per pass; one grid per pair, one section
                          each in HTML; one summary line for the file's warnings
  --model DIR|NAME        config.json + model.safetensors (or its shards with their
                          index), or an embedded model by name:
                          default (GPT-2, used when absent) or llama-default
  --modules LIST          comma-separated, default all: a role (attn_in, attn_out,
                          ff_in, ff_out: all its modules), ff1/ff2 (the paper's FF1
                          and FF2), or one module as the checkpoint names it:
                          ${ROLES.map(namesOf).join(';\n                          ')};
                          the grids need ff1 and ff2
  --layers LIST           layers to analyse, e.g. 0-11 or 0,3,5-7 (default all)
  --k N                   most/least probable tokens kept per vector (default 5, max 100)
  --normalized            logit lens of v/‖v‖ (App. F): readable for near-zero vectors
  --target-tokens all     teacher-force every target token and sum their NLLs
  --json FILE             every number: {"version": 1, "model", "results": [...]}
  --html FILE             a self-contained report: grids, hover lists, rank and norm plots
  --svg FILE              the FF2 and FF1 grids as a standalone SVG (a publication figure:
                          cells shaded by ‖δ_i‖ with a legend, the target outlined; one pair)
  --save-factors FILE.safetensors
                          every layer's x and delta as the factors command writes
                          them (one pair only: not with --pairs of several lines)
  --neurons LAYER.MODULE  also the per-neuron view of one layer (App. B), e.g. 5.ff2 or
                          5.${namesOf('ff_out')}: gradient neurons grouped by norm, their logit
                          lens, top-100 overlap and cosine with each spanning vector
                          (terminal and JSON; one projection per neuron, so slower)
  --no-color              plain grid (also when NO_COLOR is set or stdout is no terminal)
  --strict                refuse, instead of warning about, text the model's vocabulary
                          spells in single-byte tokens and a target whose first token
                          is a lone byte or bare space ("Russian" runs as "R")

The grid goes to stdout, progress to stderr. Output files are written whole or
not at all. Bad input exits with code 2 and one line saying what to fix.

Examples:
  backward-lens analyze --prompt "Lionel Messi plays for" --target " Paris"
  backward-lens analyze --prompt "Obama grew up in" --target " Paris" --layers 2-3 --modules ff1,ff2 --html obama.html
  backward-lens analyze --pairs edits.jsonl --json edits.json --no-color`;

const OPTIONS = {
  ...MODEL_OPTION,
  prompt: { type: 'string' },
  target: { type: 'string' },
  pairs: { type: 'string' },
  modules: { type: 'string' },
  layers: { type: 'string' },
  k: { type: 'string' },
  normalized: { type: 'boolean' },
  'target-tokens': { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  svg: { type: 'string' },
  'save-factors': { type: 'string' },
  neurons: { type: 'string' },
  'no-color': { type: 'boolean' },
  strict: { type: 'boolean' },
} as const;

interface SourcedPair extends PromptTarget {
  /** Where the pair came from, for error messages: "" for --prompt/--target. */
  where: string;
  /** The line's "subject", for the edits that need one (rome, memit). */
  subject?: string;
}

export const analyzeCommand: Command = {
  summary: 'the Backward Lens grid of a prompt and a new target: what each layer\'s gradient writes in',
  usage,
  async run(argv) {
    const { values } = parse(argv, OPTIONS, usage);
    if (values.help) return void console.log(usage);
    const pairs = await readPairsOption(values);
    const saveFactors = values['save-factors'];
    if (saveFactors !== undefined) {
      if (!saveFactors.endsWith('.safetensors')) throw new UsageError(`--save-factors ${saveFactors}: the file name must end in .safetensors`);
      if (pairs.length > 1) throw new BadInputError(`--save-factors takes one pair, but --pairs gave ${pairs.length}; run the pair you want with --prompt/--target`);
    }
    if (values.svg !== undefined && pairs.length > 1) throw new BadInputError(`--svg takes one pair, but --pairs gave ${pairs.length}; run the pair you want with --prompt/--target`);
    const layerRanges = values.layers === undefined ? undefined : parseLayers(values.layers);
    const opts: AnalyzeOptions = {
      ...(values.modules !== undefined ? { modules: parseModuleNames(values.modules) } : {}),
      ...(values.k !== undefined ? { k: parseK(values.k) } : {}),
      normalized: values.normalized ?? false,
      targetTokens: oneOf(values['target-tokens'], '--target-tokens', ['first', 'all'] as const, 'first'),
    };
    const outputs = [['--json', values.json], ['--html', values.html], ['--svg', values.svg], ['--save-factors', saveFactors]] as const;
    const files = await OutputSet.check(outputs);

    const { model, tokenizer, vocab } = await loadModel(values.model);
    if (layerRanges) opts.layers = expandLayers(layerRanges, model.config.nLayer);
    const settings = settingsFor(model, opts);
    const prepared = pairs.map((p) => {
      try {
        return preparePair(model, tokenizer, p.prompt, p.target, settings.targetTokens);
      } catch (e) {
        if (e instanceof BadInputError && p.where) throw new BadInputError(`${p.where}: ${e.message}`);
        throw e;
      }
    });
    reportPairWarnings(prepared, pairs, values.strict ?? false);

    const neuronSpec = values.neurons === undefined ? undefined : parseNeuronSpec(values.neurons, model.config.nLayer);
    let factors: TensorToWrite[] | undefined;
    const neurons: NeuronView[] = [];
    const results: Analysis[] = [];
    const started = performance.now();
    const progress = prepared.length > PAIRS_PER_PASS ? new Progress(prepared.length) : undefined;
    for (let from = 0; from < prepared.length; from += PAIRS_PER_PASS) {
      const batch = prepared.slice(from, from + PAIRS_PER_PASS);
      const pass = GradientPass.fromPrepared(model, batch, { targetTokens: settings.targetTokens });
      try {
        results.push(...(await analyzePass(pass, tokenizer, opts)));
        if (saveFactors !== undefined) factors = await factorTensors(pass, 0);
        if (neuronSpec) {
          for (let pair = 0; pair < batch.length; pair++) neurons.push(await neuronView(pass, tokenizer, { ...neuronSpec, pair }, { k: settings.k, normalized: settings.normalized }));
        }
      } finally {
        pass.dispose();
      }
      progress?.update(from + batch.length, 'pairs');
    }
    progress?.done();
    process.stderr.write(`backward-lens: analysed ${pairs.length} pair${pairs.length > 1 ? 's' : ''}, ${settings.layers.length} layers × ${settings.modules.length} modules, in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

    const color = colorMode(values['no-color'] ?? false);
    const grids = results.map((a, i) => {
      const neuronText = neurons[i] ? `\n\n${formatNeuronView(neurons[i], a.tokens.map((t) => t.text))}` : '';
      return `${pairs.length > 1 ? `pair ${i + 1} of ${pairs.length}: ` : ''}${renderTerminal(a, { color })}${neuronText}`;
    });
    await new Promise<void>((done) => process.stdout.write(`${grids.join('\n\n')}\n`, () => done()));

    const doc = report(modelInfo(values.model, model), results, neuronSpec ? neurons : undefined);
    try {
      if (values.json !== undefined) await files.stage(values.json, textWriter(jsonChunks(doc)));
      if (values.html !== undefined) await files.stage(values.html, textWriter(htmlChunks(doc)));
      if (values.svg !== undefined) await files.stage(values.svg, textWriter(gridsSvg(results[0]!)));
      if (saveFactors !== undefined) {
        const a = results[0]!;
        await files.stage(saveFactors, (temp) => writeSafetensorsNew(temp, factors!, { prompt: a.prompt, target: a.target, target_tokens: settings.targetTokens, loss: String(a.loss), ...(vocab ? { vocab: JSON.stringify(vocab) } : {}) }));
      }
      await files.commit();
    } finally {
      await files.discard();
    }
    for (const [flag, path] of outputs) if (path !== undefined) process.stderr.write(`backward-lens: wrote ${path} (${flag.slice(2)})\n`);
  },
};

/**
 * Pairs per forward/backward pass, as study's default batch: a --pairs file of any
 * length runs in passes of this size, so its activations stay within what the
 * device holds.
 */
const PAIRS_PER_PASS = 16;

/** One pair's warnings line by line; for a --pairs file, one summary line (the JSON's `warnings` hold each). --strict refuses the first. */
function reportPairWarnings(prepared: readonly PreparedPair[], pairs: readonly SourcedPair[], strict: boolean): void {
  const warned = prepared.flatMap((p, i) => (p.warnings.length ? [i] : []));
  if (pairs.length === 1 || strict || warned.length === 0) {
    prepared.forEach((p, i) => reportWarnings(p.warnings, strict, pairs[i]!.where));
    return;
  }
  const first = warned[0]!;
  process.stderr.write(`backward-lens: warning: ${warned.length} of ${pairs.length} pairs are not analysed as written (each result's "warnings" in --json says why); the first, ${pairs[first]!.where}: ${prepared[first]!.warnings[0]}\n`);
}

export async function readPairsOption(values: { prompt?: string; target?: string; pairs?: string }): Promise<SourcedPair[]> {
  if (values.pairs === undefined) {
    if (values.prompt === undefined || values.target === undefined) throw new UsageError('pass --prompt TEXT and --target TEXT, or --pairs FILE.jsonl');
    return [{ prompt: values.prompt, target: values.target, where: '' }];
  }
  if (values.prompt !== undefined || values.target !== undefined) throw new UsageError('pass either --prompt/--target or --pairs, not both');
  return readPairs(values.pairs);
}

/** One JSON object per line; blank lines are skipped; errors name the line. */
async function readPairs(path: string): Promise<SourcedPair[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new BadInputError(`--pairs ${path}: cannot read: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const pairs: SourcedPair[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${path} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new BadInputError(`${where}: not valid JSON (${(e as Error).message}); write one {"prompt": ..., "target": ...} object per line`);
    }
    const o = value as Record<string, unknown>;
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof o.prompt !== 'string' || typeof o.target !== 'string') {
      throw new BadInputError(`${where}: expected {"prompt": "...", "target": "..."} with two strings`);
    }
    pairs.push({ prompt: o.prompt, target: o.target, where, ...(typeof o.subject === 'string' ? { subject: o.subject } : {}) });
  });
  if (pairs.length === 0) throw new BadInputError(`--pairs ${path}: no pairs in the file; write one {"prompt": ..., "target": ...} object per line`);
  return pairs;
}

function list(value: string, flag: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`${flag} "${value}": an empty item; separate items with single commas`);
  return items;
}

/** --modules as names (roles, ff1/ff2, the checkpoint's modules), each checked and lower-cased; the model resolves them (blockModules). */
export function parseModuleNames(value: string): string[] {
  return [...new Set(list(value, '--modules').map((name) => {
    if (!roleNamed(name)) throw new BadInputError(`--modules: unknown module "${name}": choose from ${MODULE_NAMES}`);
    return name.toLowerCase();
  }))];
}

/** "0-11", "0,3,5-7" as ranges; expanded once the model's depth is known. */
export function parseLayers(value: string): Range[] {
  return parseRanges(value, { noun: 'layer', fail: (p) => new UsageError(`--layers "${value}": ${p}`) });
}

/** Sorted, without repeats. */
export function expandLayers(ranges: readonly Range[], nLayer: number): number[] {
  return layersIn(ranges, nLayer, (p) => new BadInputError(`--layers: ${p}`));
}

function parseK(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--k "${value}" is not a whole number`);
  return Number(value);
}

function colorMode(noColor: boolean): ColorMode {
  if (noColor || !process.stdout.isTTY || (process.env.NO_COLOR ?? '') !== '') return 'none';
  return /^(truecolor|24bit)$/i.test(process.env.COLORTERM ?? '') ? 'truecolor' : '256';
}
