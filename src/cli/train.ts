// `backward-lens train`: trains the embedded default model from scratch on CounterFact
// facts read from ../shared/data at run time. Checkpoints every few hundred steps so a
// stopped run resumes with --resume and continues bit-for-bit on the same data order.
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { readAll, upload } from '../gpu/buffers.ts';
import { getEngine } from '../gpu/engine.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { parameterShapes, type ModelConfig } from '../model/config.ts';
import { gpt2 as gpt2Family, gpt2Config, type Gpt2Sizes } from '../model/families/gpt2.ts';
import { Model } from '../model/model.ts';
import { fileSource, writeSafetensorsFile } from '../model/node-file.ts';
import { openSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import type { Tensor } from '../tensor.ts';
import { Gpt2Tokenizer } from '../tokenizer/gpt2-bpe.ts';
import { answerToken } from '../data/counterfact.ts';
import { recordSentences, reducedVocabulary } from '../train/corpus.ts';
import { epochBatches, Trainer, type TrainHyper } from '../train/trainer.ts';
import { readRecords, defaultDataDir } from './data.ts';
import { formatQuality } from '../report/fact-quality.ts';
import { factQuality } from './facts.ts';
import { parse, UsageError, type Command } from './common.ts';
import { BadInputError } from '../errors.ts';
import { Progress } from './progress.ts';
import { firstNonFinite } from '../train/finite.ts';
import { CHECKPOINT, checkTrainOut, LOG, startTrainDir, truncateLog } from './train-dir.ts';

const usage = `backward-lens train --out DIR [options]

Trains a GPT-2 (pre-LN, tied embeddings, learned positions, gelu_new) from scratch
on the engine, on CounterFact facts: for the first --records records of
counterfact-train.json the sentences "prompt ground_truth", "rephrase_prompt
ground_truth" and "locality_prompt locality_ground_truth". The vocabulary is
reduced to the 256 byte tokens, every token of those sentences and the first
token of every record's target_new (so edits towards any target_new work); it is
declared in the weights' metadata. Writes DIR/model.safetensors, DIR/config.json,
DIR/train-log.jsonl (one line per step) and DIR/train-summary.json (quality).

  --out DIR            output directory (created)
  --data DIR           data directory holding counterfact/ (default: ../shared/data)
  --records N          training records (default 1000)
  --layers N --embd N --heads N --context N   architecture (default 4, 128, 8, 64)
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
  config: Gpt2Sizes;
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

function seedOf(v: string | undefined): number {
  const x = Number(v ?? 0);
  if (!Number.isSafeInteger(x) || x < 0) throw new UsageError(`--seed must be a non-negative integer, got "${v}"`);
  return x;
}

function parseTrainArgs(argv: string[]): TrainArgs | null {
  const s = { type: 'string' } as const;
  const { values: v } = parse(argv, { out: s, data: s, records: s, layers: s, embd: s, heads: s, context: s, epochs: s, batch: s, lr: s, warmup: s, 'weight-decay': s, seed: s, resume: { type: 'boolean' }, force: { type: 'boolean' }, 'max-steps': s }, usage);
  if (v.help) return null;
  if (!v.out) throw new UsageError('--out DIR is required');
  const nEmbd = positive(v.embd, '--embd', 128);
  const nHead = positive(v.heads, '--heads', 8);
  if (nEmbd % nHead) throw new UsageError(`--embd ${nEmbd} must be divisible by --heads ${nHead}`);
  const wd = v['weight-decay'] === undefined ? 0.1 : Number(v['weight-decay']);
  if (!(wd >= 0)) throw new UsageError('--weight-decay must be >= 0');
  return {
    out: v.out,
    dataDir: v.data ?? defaultDataDir(),
    records: positive(v.records, '--records', 1000),
    config: { nLayer: positive(v.layers, '--layers', 4), nHead, nEmbd, nPositions: positive(v.context, '--context', 64), vocabSize: 0, nInner: 4 * nEmbd, eps: 1e-5 },
    epochs: positive(v.epochs, '--epochs', 20),
    batch: positive(v.batch, '--batch', 32),
    seed: seedOf(v.seed),
    hyper: { lr: positive(v.lr, '--lr', 0.005, false), minLrRatio: 0.1, warmupSteps: positive(v.warmup, '--warmup', 100), weightDecay: wd, beta1: 0.9, beta2: 0.95, clipNorm: 1 },
    resume: v.resume ?? false,
    force: v.force ?? false,
    maxSteps: v['max-steps'] === undefined ? Infinity : positive(v['max-steps'], '--max-steps', 1),
  };
}

/** Forward + backward FLOPs of one step on real tokens: 3x the forward's matmuls. */
function stepFlops(c: ModelConfig, lengths: number[]): number {
  const d = c.nEmbd;
  const linear = (3 * d * d + d * d + 2 * d * c.nInner) * c.nLayer + c.vocabSize * d;
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
      for (const [name, info] of f.tensors) if (name.startsWith(`${kind}/`)) m.set(gpt2Family.canonical(name.slice(kind.length + 1)) ?? name, upload(k, info.shape, await f.readF32(name), 'f32', name));
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
  const shapes = [...parameterShapes(config)];
  const count = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
  const params = shapes.reduce((n, [, shape]) => n + count(shape), 0);
  const [largest, shape] = shapes.reduce((a, b) => (count(b[1]) > count(a[1]) ? b : a));
  const arch = `--layers ${config.nLayer} --embd ${config.nEmbd} --context ${config.nPositions}`;
  const gb = (bytes: number) => `${(bytes / 1e9).toPrecision(3)} GB`;
  if (count(shape) > MAX_TYPED_ARRAY) {
    throw new UsageError(`${arch}: ${gpt2Family.checkpointName(largest)} [${shape.join(', ')}] has ${count(shape)} elements, more than one array can hold (${MAX_TYPED_ARRAY}); choose a smaller --embd`);
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
  const gpt2 = new Gpt2Tokenizer();
  const allTargets = (['train', 'val', 'edit'] as const).flatMap((split) => readRecords(a.dataDir, split)).map((r) => answerToken(gpt2, r.prompt, r.target_new));
  const sentences = records.flatMap(recordSentences);
  const vocab = reducedVocabulary(gpt2, sentences, allTargets);
  const tokenizer = new Gpt2Tokenizer(vocab);
  const seqs = sentences.map((s) => tokenizer.encode(s));
  const tooLong = seqs.findIndex((s) => s.length > a.config.nPositions);
  if (tooLong >= 0) throw new UsageError(`sentence "${sentences[tooLong]}" has ${seqs[tooLong]!.length} tokens, more than --context ${a.config.nPositions}`);
  const sizes = { ...a.config, vocabSize: vocab.length };
  const config = gpt2Config(sizes);
  const lengths = seqs.map((s) => s.length);
  const stepsPerEpoch = Math.ceil(seqs.length / a.batch);
  const hyper: TrainHyper = { ...a.hyper, totalSteps: stepsPerEpoch * a.epochs };
  const meta = { config: JSON.stringify(sizes), hyper: JSON.stringify(hyper), seed: String(a.seed), records: String(a.records), batch: String(a.batch) };

  checkFits(config);
  const k = await getEngine();
  const dir = startTrainDir(a.out, a.resume);
  process.stderr.write(`backward-lens train: ${k.gpu.adapterName}; ${records.length} records, ${seqs.length} sentences, ${lengths.reduce((x, y) => x + y, 0)} tokens, vocab ${vocab.length}\n`);
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

  await writeSafetensorsFile(join(a.out, 'model.safetensors'), weights.map((name, i) => ({ name: trainer.model.checkpointName(name), dtype: 'F32', shape: [...trainer.model.param(name).shape], data: data[i] as Float32Array })), {
    config: JSON.stringify(gpt2Family.writeConfig(config)),
    vocab: JSON.stringify(vocab),
    training: `backward-lens train --records ${a.records} --layers ${config.nLayer} --embd ${config.nEmbd} --heads ${config.nHead} --context ${config.nPositions} --epochs ${a.epochs} --batch ${a.batch} --lr ${a.hyper.lr} --warmup ${a.hyper.warmupSteps} --weight-decay ${a.hyper.weightDecay} --seed ${a.seed}`,
  });
  await writeFile(join(a.out, 'config.json'), JSON.stringify(gpt2Family.writeConfig(config), null, 2) + '\n');
  const quality = await factQuality(trainer.model, tokenizer, a.dataDir, a.records);
  const summary = { records: a.records, sentences: seqs.length, vocab: vocab.length, config: sizes, hyper, seed: a.seed, steps: trainer.steps, wallSeconds: wall, tokensPerSecond: totals.tokens / wall, gflops: totals.flops / wall / 1e9, adapter: k.gpu.adapterName, quality };
  await writeFile(join(a.out, 'train-summary.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(formatQuality(quality));
  console.log(`trained ${trainer.steps} steps in ${(wall / 60).toFixed(1)} min (${summary.tokensPerSecond.toFixed(0)} tok/s, ${summary.gflops.toFixed(2)} GFLOP/s); wrote ${a.out}`);
}

export const trainCommand: Command = {
  summary: 'train the embedded default model from scratch on CounterFact facts',
  usage,
  async run(argv) {
    const a = parseTrainArgs(argv);
    if (!a) return void console.log(usage);
    await train(a, argv);
  },
};
