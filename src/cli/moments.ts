// Second-moment statistics for the commands that need them (stats, and edit/eval
// with rome or memit): read from the cache when it holds this model's layer,
// otherwise collected on the engine and cached. Progress and what was reused go to
// stderr.
import { dirname, join } from 'node:path';
import { stat } from 'node:fs/promises';
import { wikitextStatsText } from '../data/wikitext.ts';
import { secondMoments, textWindows } from '../edit/located/second-moment.ts';
import { fileSha256, filesSha256, momentFile, readMoment, writeMoment, type MomentMeta } from '../edit/located/moment-cache-node.ts';
import type { LoadedModel } from '../model/load.ts';
import { modelFiles } from '../model/load-node.ts';
import { UsageError, modelPath } from './common.ts';
import { defaultWikitextFile, readWikitext } from './data.ts';
import { Progress } from './progress.ts';
import { leadIds } from '../tokenizer/tokenizer.ts';
import { checkWritableDir } from './output-dir.ts';

export interface MomentOptions {
  /** --model as given (undefined: the embedded model). */
  model: string | undefined;
  /** --cache DIR; default `stats/` beside the model. */
  cache?: string;
  /** --data: a wiki.test.raw-like file. */
  data?: string;
  /** The option that names `data`, for messages (eval's is --wikitext; default --data). */
  dataFlag?: string;
  /** --tokens: at most this many (default: all the corpus has). */
  tokens?: number;
}

export const CORPUS_NOTE = 'WikiText-2 test text after the 100 rows the perplexity metric uses (ROME used 100k Wikipedia samples)';
/** In a cache's corpus note where each window starts with BOS; a cache without it holds keys read without BOS. */
const BOS_WINDOWS = 'each BOS first';

/** Token window length: the context, capped at 256 so batches stay several windows wide. */
const windowLength = (nPositions: number): number => Math.min(nPositions, 256);

export async function cacheDir(opts: MomentOptions): Promise<string> {
  if (opts.cache !== undefined) return opts.cache;
  const path = modelPath(opts.model);
  const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
  return join(isDir ? path : dirname(path), 'stats');
}

export async function modelSha256(model: string | undefined): Promise<string> {
  return filesSha256((await modelFiles(modelPath(model))).shards);
}

export interface LayerMoment {
  moment: Float64Array;
  meta: MomentMeta;
  path: string;
  reused: boolean;
}

/**
 * C for each layer: cached ones reused (said on stderr), the rest collected in one
 * batched sweep over the corpus and written. A cache is reused when it answers what
 * was asked: the data file (stats --data, eval --wikitext; by its sha256, or for a
 * cache older than that record by its name) and the --tokens count, either as asked
 * or as whole windows collect it (stats only). edit asks for neither, so takes any.
 */
export async function layerMoments(loaded: LoadedModel, layers: readonly number[], opts: MomentOptions): Promise<Map<number, LayerMoment>> {
  const { model, tokenizer } = loaded;
  const f = model.config.nInner;
  const T = windowLength(model.config.nPositions);
  if (opts.tokens !== undefined && opts.tokens < T) throw new UsageError(`--tokens ${opts.tokens}: the statistics are collected in windows of ${T} tokens; give at least ${T}`);
  const dir = await cacheDir(opts);
  const sha = await modelSha256(opts.model);
  const flag = opts.dataFlag ?? '--data';
  const dataSha = opts.data === undefined ? undefined : await fileSha256(opts.data).catch(() => { throw new UsageError(`cannot read ${opts.data}: pass ${flag} FILE, wikitext-2-raw/wiki.test.raw`); });
  const sameData = (m: MomentMeta) => (m.corpus_sha256 === undefined ? m.corpus.startsWith(`${corpusName(opts.data!)}:`) : m.corpus_sha256 === dataSha);
  const bosFirst = leadIds(tokenizer).length > 0;
  const answers = (m: MomentMeta) =>
    (!bosFirst || m.corpus.includes(BOS_WINDOWS)) &&
    (dataSha === undefined || sameData(m)) &&
    (opts.tokens === undefined || m.requested === String(opts.tokens) || m.tokens === Math.floor(opts.tokens / T) * T);
  const out = new Map<number, LayerMoment>();
  const missing: number[] = [];
  for (const layer of layers) {
    // A file for another model or layer throws StatsCacheError: one line, exit 2.
    const cached = await readMoment(dir, layer, sha, f);
    if (cached && answers(cached.meta)) {
      process.stderr.write(`backward-lens: reusing statistics from ${momentFile(dir, layer)} (layer ${layer}, ${cached.meta.tokens} tokens of ${cached.meta.corpus})\n`);
      out.set(layer, { moment: Float64Array.from(cached.moment), meta: cached.meta, path: momentFile(dir, layer), reused: true });
    } else {
      missing.push(layer);
    }
  }
  if (missing.length === 0) return out;
  // Before the collection, which takes minutes: a cache that cannot be written fails now.
  await checkWritableDir(dir, '--cache');

  const dataFile = opts.data ?? defaultWikitextFile();
  const which = `layer${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
  // The whole corpus is the slow part of a first rome/memit run: say so before it starts.
  const sample = opts.tokens === undefined
    ? `the whole corpus: the slow part of a first rome or memit run; \`backward-lens stats --layers ${missing.join(',')} --tokens 20480\` collects a smaller sample instead (docs/rome-memit.md)`
    : `${opts.tokens} tokens`;
  process.stderr.write(`backward-lens: no statistics for ${which} in ${dir} answer this run; collecting them once over ${sample}\n`);
  const text = wikitextStatsText(readWikitext(dataFile, flag));
  const windows = textWindows(tokenizer, text, T, opts.tokens);
  if (windows.length === 0) throw new UsageError(`${dataFile}: no text after the perplexity's rows to collect statistics on (need at least ${T} tokens)`);
  const corpusSha = dataSha ?? (await fileSha256(dataFile));
  const corpus = `${corpusName(dataFile)}: ${CORPUS_NOTE}; windows of ${T} tokens${bosFirst ? `, ${BOS_WINDOWS}` : ''}`;
  process.stderr.write(`backward-lens: collecting statistics of FF2's input at ${which} over ${windows.length * T} tokens of ${CORPUS_NOTE}\n`);
  const progress = new Progress(windows.length * T);
  const started = performance.now();
  let estimated = false;
  const { moments, tokens } = await secondMoments(model, windows, missing, {
    onProgress: (p) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = p.tokens / seconds;
      // Queued GPU work finishes later: estimate from the first sums read back.
      if (!estimated && p.flushed > 0 && p.flushed < p.total) {
        estimated = true;
        const measured = p.flushed / seconds;
        process.stderr.write(`backward-lens: about ${minutes((p.total - p.flushed) / measured)} to go at ${Math.round(measured)} tokens/s\n`);
      }
      progress.update(p.tokens, `tokens (${Math.round(rate)} tokens/s)`);
    },
  });
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`backward-lens: ${tokens} tokens in ${seconds.toFixed(1)} s (${Math.round(tokens / seconds)} tokens/s)\n`);
  for (const layer of missing) {
    const meta: MomentMeta = { model_sha256: sha, layer, corpus, corpus_sha256: corpusSha, tokens, requested: String(opts.tokens ?? 'all'), dtype: 'F32 (summed in float64)' };
    const path = await writeMoment(dir, moments.get(layer)!, f, meta);
    process.stderr.write(`backward-lens: wrote ${path}\n`);
    out.set(layer, { moment: moments.get(layer)!, meta, path, reused: false });
  }
  return out;
}

function minutes(seconds: number): string {
  return seconds < 90 ? `${Math.ceil(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

/** How the cache's `corpus` names its file: the last two parts of the path. */
const corpusName = (file: string): string => file.split('/').slice(-2).join('/');
