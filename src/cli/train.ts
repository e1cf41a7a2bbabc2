// `backward-lens train`: trains an embedded model (GPT-2 or Llama layout) from scratch
// on CounterFact facts read from ../shared/data at run time. Checkpoints every few hundred steps so a
// stopped run resumes with --resume and continues bit-for-bit on the same data order.
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { readAll, upload } from '../gpu/buffers.ts';
import { getEngine } from '../gpu/engine.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { trainedShapes, type ModelConfig } from '../model/config.ts';
import { familyOf, storedParts } from '../model/families/index.ts';
import { Model } from '../model/model.ts';
import { fileSource, writeSafetensorsFile } from '../model/node-file.ts';
import { openSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import type { Tensor } from '../tensor.ts';
import { trainSetup, type TrainFamily, type TrainShape } from './train-setup.ts';
import { epochBatches, Trainer, type TrainHyper } from '../train/trainer.ts';
import { readRecords, defaultDataDir } from './data.ts';
import { coverSources } from './training-text.ts';
import { formatQuality } from '../report/fact-quality.ts';
import { factQuality } from './facts.ts';
import { parse, UsageError, type Command } from './common.ts';
import { BadInputError } from '../errors.ts';
import { Progress } from './progress.ts';
import { firstNonFinite } from '../train/finite.ts';
import { CHECKPOINT, checkTrainOut, LOG, startTrainDir, truncateLog } from './train-dir.ts';

const usage = `backward-lens train --out DIR [options]

Trains a model from scratch on the engine, on CounterFact facts: for the first
--records records of counterfact-train.json the sentences "prompt ground_truth",
"rephrase_prompt ground_truth" and "locality_prompt locality_ground_truth".
Writes DIR/model.safetensors, DIR/config.json, DIR/train-log.jsonl (one line per
step) and DIR/train-summary.json (quality).

--family gpt2 (the default): a GPT-2 (pre-LN, tied embeddings, learned positions,
gelu_new). The vocabulary is GPT-2's reduced to the 256 byte tokens, every token of
those sentences and the first token of every record's target_new (so edits towards
any target_new work); it is declared in the weights' metadata.

--family llama: a Llama (LlamaForCausalLM: RMSNorm eps 1e-6, rotary positions,
SiLU-gated MLP, grouped-query attention, untied head), written as a Hugging Face
Llama directory with HF tensor names (q/k/v_proj, gate/up_proj). Its tokenizer is a
byte-fallback BPE in Llama 2's tokenizer.json layout (▁ word starts, <0xNN> byte
tokens, BOS first), trained on those sentences to --vocab tokens, plus one token
for the first word of every record's target_new; DIR gets tokenizer.json and
tokenizer_config.json. Every trained record's target_new word that none of those
sentences uses gets --cover-targets sentences that use it, from records outside the
trained ones (counterfact-train.json's later records, then counterfact-edit.json;
never counterfact-val.json, whose records are the held-out test): a head row that
no sentence uses gets no data gradient, so the Backward Lens could not tell it
apart.

  --out DIR            output directory (created)
  --data DIR           data directory holding counterfact/ (default: ../shared/data)
  --records N          training records (default 1000)
  --family gpt2|llama  architecture family (default gpt2)
  --layers N --embd N --heads N --context N   architecture (default 4, 128, 8, 64)
  --kv-heads N         llama: key/value heads, dividing --heads (default half of
                       --heads: 4)
  --ff N               llama: MLP width (default 344, about 8/3 --embd)
  --theta X            llama: rotary base (default 10000)
  --vocab N            llama: tokens learned from the text, byte tokens included
                       (default 4096)
  --cover-targets N    llama: sentences for each trained target word the trained
                       text never uses (default 3; 0: none)
  --epochs N           passes over the sentences (default 20)
  --batch N            sentences per step (default 32)
  --lr X               peak learning rate (default 0.005), warm-up --warmup steps
                       (default 100), cosine decay to 10%
  --weight-decay X     AdamW decay on matrices (default 0.1)
  --seed N             initialisation and data order (default 0)
  --resume             continue from DIR/checkpoint.safetensors (refused when there
                       is none); Ctrl-C or SIGTERM writes one and prints the command
  --force              start over in a DIR that holds a training run (without
                       --resume or --force such a DIR is refused)
  --max-steps N        stop after N steps in total (for quick checks)`;

interface TrainArgs {
  out: string;
  dataDir: string;
  records: number;
  family: TrainFamily;
  shape: TrainShape;
  epochs: number;
  batch: number;
  seed: number;
  hyper: Omit<TrainHyper, 'totalSteps'>;
  resume: boolean;
  force: boolean;
  maxSteps: number;
}

function positive(v: string | undefined, flag: string, fallback: number, integer = true): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!(x > 0) || (integer && !Number.isInteger(x))) throw new UsageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  return x;
}

function nonNegative(v: string | undefined, flag: string, fallback: number): number {
  const x = Number(v ?? fallback);
  if (!Number.isSafeInteger(x) || x < 0) throw new UsageError(`${flag} must be a non-negative integer, got "${v}"`);
  return x;
}

function parseTrainArgs(argv: string[]): TrainArgs | null {
  const s = { type: 'string' } as const;
  const { values: v } = parse(argv, { out: s, data: s, records: s, family: s, layers: s, embd: s, heads: s, context: s, 'kv-heads': s, ff: s, theta: s, vocab: s, 'cover-targets': s, epochs: s, batch: s, lr: s, warmup: s, 'weight-decay': s, seed: s, resume: { type: 'boolean' }, force: { type: 'boolean' }, 'max-steps': s }, usage);
  if (v.help) return null;
  if (!v.out) throw new UsageError('--out DIR is required');
  const family = v.family ?? 'gpt2';
  if (family !== 'gpt2' && family !== 'llama') throw new UsageError(`--family must be gpt2 or llama, got "${family}"`);
  const nEmbd = positive(v.embd, '--embd', 128);
  const nHead = positive(v.heads, '--heads', 8);
  if (nEmbd % nHead) throw new UsageError(`--embd ${nEmbd} must be divisible by --heads ${nHead}`);
  const llamaOnly = (['kv-heads', 'ff', 'theta', 'vocab', 'cover-targets'] as const).find((f) => v[f] !== undefined);
  if (family === 'gpt2' && llamaOnly) throw new UsageError(`--${llamaOnly} applies to --family llama only`);
  const kvHeads = positive(v['kv-heads'], '--kv-heads', nHead % 2 ? nHead : nHead / 2);
  if (nHead % kvHeads) throw new UsageError(`--heads ${nHead} must be a multiple of --kv-heads ${kvHeads}`);
  if (family === 'llama' && (nEmbd / nHead) % 2) throw new UsageError(`--embd / --heads = ${nEmbd / nHead} is odd; rotary positions rotate pairs of dimensions, so choose an even head width`);
  const wd = v['weight-decay'] === undefined ? 0.1 : Number(v['weight-decay']);
  if (!(wd >= 0)) throw new UsageError('--weight-decay must be >= 0');
  return {
    out: v.out,
    dataDir: v.data ?? defaultDataDir(),
    records: positive(v.records, '--records', 1000),
    family,
    shape: {
      layers: positive(v.layers, '--layers', 4), embd: nEmbd, heads: nHead, context: positive(v.context, '--context', 64), kvHeads,
      ff: positive(v.ff, '--ff', 8 * Math.ceil((8 * nEmbd) / 3 / 8)), theta: positive(v.theta, '--theta', 10000, false), vocab: positive(v.vocab, '--vocab', 4096),
      cover: nonNegative(v['cover-targets'], '--cover-targets', 3),
    },
    epochs: positive(v.epochs, '--epochs', 20),
    batch: positive(v.batch, '--batch', 32),
    seed: nonNegative(v.seed, '--seed', 0),
    hyper: { lr: positive(v.lr, '--lr', 0.005, false), minLrRatio: 0.1, warmupSteps: positive(v.warmup, '--warmup', 100), weightDecay: wd, beta1: 0.9, beta2: 0.95, clipNorm: 1 },
    resume: v.resume ?? false,
    force: v.force ?? false,
    maxSteps: v['max-steps'] === undefined ? Infinity : positive(v['max-steps'], '--max-steps', 1),
  };
}

/** Forward + backward FLOPs of one step on real tokens: 3x the forward's matmuls. */
function stepFlops(c: ModelConfig, lengths: number[]): number {
  const d = c.nEmbd;
  const matrices = [...trainedShapes(c)].filter(([name, shape]) => name.startsWith('blocks.') && shape.length === 2);
  const linear = matrices.reduce((n, [, [rows, cols]]) => n + rows! * cols!, 0) + c.vocabSize * d;
  return lengths.reduce((s, T) => s + 3 * (2 * T * linear + 4 * c.nLayer * d * T * T * 0.5), 0);
}

/** Work done so far, carried across resumes so the summary covers the whole run. */
interface Totals {
  seconds: number;
  tokens: number;
  flops: number;
}

/** Refuses weights a too-large --lr made infinite or NaN: one line naming what overflowed and the fix. */
function checkFinite(what: string | undefined, a: TrainArgs, step: number): void {
  if (what === undefined) return;
  throw new BadInputError(`${what} became infinite or NaN by step ${step}: --lr ${a.hyper.lr} overflows float32; choose a smaller --lr (default 0.005); ${a.resume ? 'the last finite checkpoint is kept' : 'nothing was written'}`);
}

async function saveCheckpoint(dir: string, t: Trainer, meta: Record<string, string>, totals: Totals, a: TrainArgs): Promise<void> {
  const names = [...t.model.params.keys()];
  const sources = names.flatMap((n) => [t.model.param(n), t.m.get(n)!, t.v.get(n)!]);
  const data = await readAll(t.model.k, sources);
  checkFinite(firstNonFinite(names, names.map((_, i) => data[3 * i] as Float32Array)), a, t.steps);
  const tensors: TensorToWrite[] = names.flatMap((n, i) =>
    ['param', 'm', 'v'].map((kind, j) => ({ name: `${kind}/${t.model.checkpointName(n)}`, dtype: 'F32' as const, shape: [...sources[3 * i + j]!.shape], data: data[3 * i + j] as Float32Array })),
  );
  await writeSafetensorsFile(join(dir, CHECKPOINT), tensors, { ...meta, steps: String(t.steps), totals: JSON.stringify(totals) });
}

async function loadCheckpoint(k: Kernels, dir: string, config: ModelConfig, hyper: TrainHyper, meta: Record<string, string>): Promise<{ trainer: Trainer; totals: Totals }> {
  const src = await fileSource(join(dir, CHECKPOINT));
  try {
    const f = await openSafetensors(src);
    for (const key of Object.keys(meta)) {
      if (f.metadata[key] !== meta[key]) throw new UsageError(`${join(dir, CHECKPOINT)} was made with a different ${key}; rerun with the same options or without --resume`);
    }
    const load = async (kind: string) => {
      const m = new Map<string, Tensor>();
      for (const [name, info] of f.tensors) if (name.startsWith(`${kind}/`)) m.set(familyOf(config).canonical(name.slice(kind.length + 1)) ?? name, upload(k, info.shape, await f.readF32(name), 'f32', name));
      return m;
    };
    const trainer = new Trainer(new Model(k, config, await load('param')), hyper, Number(f.metadata.steps), { m: await load('m'), v: await load('v') });
    return { trainer, totals: JSON.parse(f.metadata.totals ?? '{"seconds":0,"tokens":0,"flops":0}') as Totals };
  } finally {
    await src.close();
  }
}

/**
 * Refuses, before the output directory exists, a model that cannot be trained here:
 * training keeps at least weights, gradients and Adam's two moments, 16 bytes a
 * parameter, and each tensor starts as one typed array on the host.
 */
function checkFits(config: ModelConfig): void {
  const shapes = [...trainedShapes(config)];
  const count = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
  const params = shapes.reduce((n, [, shape]) => n + count(shape), 0);
  const [largest, shape] = shapes.reduce((a, b) => (count(b[1]) > count(a[1]) ? b : a));
  const arch = `--layers ${config.nLayer} --embd ${config.nEmbd} --context ${config.nPositions}`;
  const gb = (bytes: number) => `${(bytes / 1e9).toPrecision(3)} GB`;
  if (count(shape) > MAX_TYPED_ARRAY) {
    throw new UsageError(`${arch}: ${familyOf(config).checkpointName(largest)} [${shape.join(', ')}] has ${count(shape)} elements, more than one array can hold (${MAX_TYPED_ARRAY}); choose a smaller --embd`);
  }
  if (16 * params > totalmem()) {
    throw new UsageError(`${arch}: ${params} parameters need at least ${gb(16 * params)} to train (weights, gradients, Adam's moments), more than this machine's ${gb(totalmem())}; choose a smaller --embd or --layers`);
  }
}

// V8's largest typed array on 64-bit machines.
const MAX_TYPED_ARRAY = 2 ** 32;

/** The command that continues this run: the same options plus --resume. */
function resumeCommand(argv: readonly string[]): string {
  const quote = (s: string) => (/^[\w./=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return ['backward-lens', 'train', ...argv.filter((x) => x !== '--resume' && x !== '--force').map(quote), '--resume'].join(' ');
}

// SIGTERM is what Slurm and Kubernetes send before they kill a job: it gets a checkpoint too.
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/** Set once Ctrl-C or SIGTERM arrived (the exit code to use); a second signal exits at once. */
function interruptFlag(): { readonly code: number | undefined; dispose(): void } {
  const flag: { code: number | undefined; dispose(): void } = {
    code: undefined,
    dispose: () => { for (const sig of Object.keys(STOP_SIGNALS)) process.off(sig, onSignal); },
  };
  function onSignal(sig: NodeJS.Signals): void {
    if (flag.code !== undefined) process.exit(flag.code);
    flag.code = STOP_SIGNALS[sig as keyof typeof STOP_SIGNALS];
    process.stderr.write(`\nbackward-lens train: ${sig}: stopping after this step to write a checkpoint (a second one quits without it)\n`);
  }
  for (const sig of Object.keys(STOP_SIGNALS)) process.on(sig, onSignal);
  return flag;
}

async function train(a: TrainArgs, argv: readonly string[]): Promise<void> {
  await checkTrainOut(a.out, a.resume, a.force);
  const records = readRecords(a.dataDir, 'train').slice(0, a.records);
  if (records.length < a.records) throw new UsageError(`counterfact-train.json has only ${records.length} records`);
  const targets = (['train', 'val', 'edit'] as const).flatMap((split) => readRecords(a.dataDir, split));
  const setup = trainSetup(a.family, a.shape, records, targets, a.family === 'llama' && a.shape.cover > 0 ? coverSources(a.dataDir, a.records) : []);
  const { config, tokenizer, sequences: seqs, sentences } = setup;
  const tooLong = seqs.findIndex((s) => s.length > config.nPositions);
  if (tooLong >= 0) throw new UsageError(`sentence "${sentences[tooLong]}" has ${seqs[tooLong]!.length} tokens, more than --context ${config.nPositions}`);
  const sizes = setup.described;
  const family = familyOf(config);
  const lengths = seqs.map((s) => s.length);
  const stepsPerEpoch = Math.ceil(seqs.length / a.batch);
  const hyper: TrainHyper = { ...a.hyper, totalSteps: stepsPerEpoch * a.epochs };
  const meta = { config: JSON.stringify(sizes), hyper: JSON.stringify(hyper), seed: String(a.seed), records: String(a.records), batch: String(a.batch), ...(a.family === 'llama' ? { cover: String(a.shape.cover) } : {}) };

  checkFits(config);
  const k = await getEngine();
  const dir = startTrainDir(a.out, a.resume);
  for (const [id, n] of setup.short) process.stderr.write(`backward-lens train: warning: target token ${JSON.stringify(tokenizer.decode([id]))} is in ${n} of the --cover-targets ${a.shape.cover} sentences: the records outside the trained ones use it no more often\n`);
  process.stderr.write(`backward-lens train: ${k.gpu.adapterName}; ${records.length} records, ${seqs.length} sentences, ${lengths.reduce((x, y) => x + y, 0)} tokens, vocab ${config.vocabSize}\n`);
  const { trainer, totals } = a.resume ? await loadCheckpoint(k, a.out, config, hyper, meta) : { trainer: Trainer.fresh(k, config, a.seed, hyper), totals: { seconds: 0, tokens: 0, flops: 0 } };
  const log = join(a.out, LOG);
  if (a.resume) await truncateLog(log, trainer.steps);
  else await rm(log, { force: true });
  const lastStep = Math.min(hyper.totalSteps, a.maxSteps);
  const progress = new Progress(lastStep, trainer.steps);
  const started = performance.now() - totals.seconds * 1000;
  const interrupted = interruptFlag();
  let checkpointSteps = a.resume ? trainer.steps : undefined;
  const weights = [...trainer.model.params.keys()];
  let data: Float32Array[];
  try {
    while (trainer.steps < lastStep) {
      if (interrupted.code !== undefined) {
        await saveCheckpoint(a.out, trainer, meta, totals, a);
        progress.done();
        process.stderr.write(`backward-lens train: interrupted after step ${trainer.steps} of ${lastStep}; wrote ${join(a.out, CHECKPOINT)}. Continue with:\n  ${resumeCommand(argv)}\n`);
        process.exit(interrupted.code);
      }
      const epoch = Math.floor(trainer.steps / stepsPerEpoch);
      const batch = epochBatches(lengths, a.batch, a.seed, epoch)[trainer.steps % stepsPerEpoch]!;
      const r = await trainer.step(batch.map((i) => seqs[i]!));
      checkFinite(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm) ? undefined : 'the loss', a, trainer.steps);
      totals.tokens += r.tokens + batch.length;
      totals.flops += stepFlops(config, batch.map((i) => lengths[i]!));
      totals.seconds = (performance.now() - started) / 1000;
      const tps = totals.tokens / totals.seconds;
      await appendFile(log, JSON.stringify({ step: trainer.steps, epoch, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr, tokensPerSecond: tps }) + '\n');
      progress.update(trainer.steps, `epoch ${epoch + 1}/${a.epochs} loss ${r.loss.toFixed(3)} | ${tps.toFixed(0)} tok/s`);
      if (trainer.steps % 200 === 0 || trainer.steps === lastStep) {
        await saveCheckpoint(a.out, trainer, meta, totals, a);
        checkpointSteps = trainer.steps;
      }
    }
    data = (await readAll(k, weights.map((n) => trainer.model.param(n)))) as Float32Array[];
    checkFinite(firstNonFinite(weights, data), a, trainer.steps);
  } catch (e) {
    progress.done();
    if (e instanceof BadInputError) await dir.abandon(checkpointSteps);
    throw e;
  }
  interrupted.dispose();
  progress.done();
  const wall = totals.seconds;

  const llamaShape = a.family === 'llama' ? ` --family llama --kv-heads ${config.nKvHead} --ff ${config.nInner} --theta ${a.shape.theta} --vocab ${a.shape.vocab} --cover-targets ${a.shape.cover}` : '';
  const tensors = weights.flatMap((name, i) => storedParts(config, name, trainer.model.param(name).shape, data[i]!).map((p) => ({ ...p, dtype: 'F32' as const })));
  await writeSafetensorsFile(join(a.out, 'model.safetensors'), tensors, {
    config: JSON.stringify(family.writeConfig(config)),
    ...setup.metadata,
    training: `backward-lens train --records ${a.records}${llamaShape} --layers ${config.nLayer} --embd ${config.nEmbd} --heads ${config.nHead} --context ${config.nPositions} --epochs ${a.epochs} --batch ${a.batch} --lr ${a.hyper.lr} --warmup ${a.hyper.warmupSteps} --weight-decay ${a.hyper.weightDecay} --seed ${a.seed}`,
  });
  await writeFile(join(a.out, 'config.json'), JSON.stringify(family.writeConfig(config), null, 2) + '\n');
  for (const [name, text] of Object.entries(setup.files)) await writeFile(join(a.out, name), text);
  const quality = await factQuality(trainer.model, tokenizer, a.dataDir, a.records);
  const summary = { records: a.records, sentences: seqs.length, vocab: config.vocabSize, config: sizes, hyper, seed: a.seed, steps: trainer.steps, wallSeconds: wall, tokensPerSecond: totals.tokens / wall, gflops: totals.flops / wall / 1e9, adapter: k.gpu.adapterName, quality };
  await writeFile(join(a.out, 'train-summary.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(formatQuality(quality));
  console.log(`trained ${trainer.steps} steps in ${(wall / 60).toFixed(1)} min (${summary.tokensPerSecond.toFixed(0)} tok/s, ${summary.gflops.toFixed(2)} GFLOP/s); wrote ${a.out}`);
}

export const trainCommand: Command = {
  summary: 'train an embedded model (GPT-2 or Llama layout) from scratch on CounterFact facts',
  usage,
  async run(argv) {
    const a = parseTrainArgs(argv);
    if (!a) return void console.log(usage);
    await train(a, argv);
  },
};
