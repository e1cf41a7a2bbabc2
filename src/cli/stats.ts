// `backward-lens stats`: the second-moment statistics ROME and MEMIT need, collected
// once per model and layer and cached (src/cli/moments.ts).
import { stat } from 'node:fs/promises';
import { parseLayers, expandLayers } from './analyze.ts';
import { checkWritableDir } from './output-dir.ts';
import { MODEL_OPTION, loadModel, parse, UsageError, type Command } from './common.ts';
import { cacheDir, CORPUS_NOTE, layerMoments } from './moments.ts';
import { namesOf } from '../model/families/index.ts';

const usage = `backward-lens stats --layers L [--model DIR|NAME] [--data FILE] [--tokens N] [--cache DIR]

Collects C = E[k kᵀ], the second moment of FF2's input k (${namesOf('ff_out')}'s input:
GPT-2's GELU output, width 4d; a gated MLP's SiLU(gate)·up, width intermediate_size;
TransformerLens's mlp.hook_post) at each layer: the key statistics ROME and MEMIT
whiten their updates with. Batched forward passes on the engine, kᵀk summed on the GPU.

Corpus: ${CORPUS_NOTE}.
The statistics never see the perplexity's text.

Each layer is cached as DIR/mom2-layer{L}.safetensors (F32, metadata: sha256 of the
model's weights file, layer, corpus and its sha256, token count, dtype). A second
run reuses it unless it asks for another --data file or another --tokens count; a
file made for another model or layer is refused. edit and eval with rome or memit
read the same cache, whatever its corpus and count (and collect what is missing).

  --layers L      layers, e.g. 2 or 0-3 or 1,3
  --model DIR|NAME  config.json + model.safetensors (or its shards with their
                  index), or an embedded model by name:
                  default (GPT-2, used when absent) or llama-default
  --data FILE     wiki.test.raw-like text (default ../shared/data/wikitext-2-raw/wiki.test.raw);
                  the text after its first 100 rows of >= 30 characters is used
  --tokens N      at most N tokens, in whole windows of the context (64 tokens for
                  the embedded model; default: all the corpus has)
  --cache DIR     where the statistics live (default: stats/ beside the model)

Example:
  backward-lens stats --layers 0-3`;

export const statsCommand: Command = {
  summary: 'second-moment statistics of FF2 inputs for ROME and MEMIT (cached)',
  usage,
  async run(argv) {
    const s = { type: 'string' } as const;
    const { values: v } = parse(argv, { ...MODEL_OPTION, layers: s, data: s, tokens: s, cache: s }, usage);
    if (v.help) return void console.log(usage);
    if (v.layers === undefined) throw new UsageError('--layers is required, e.g. --layers 2');
    const ranges = parseLayers(v.layers);
    if (v.tokens !== undefined && (!/^\d+$/.test(v.tokens) || Number(v.tokens) < 1)) throw new UsageError(`--tokens "${v.tokens}": give a whole number >= 1`);
    const tokens = v.tokens === undefined ? undefined : Number(v.tokens);
    const opts = { model: v.model, ...(v.cache === undefined ? {} : { cache: v.cache }), ...(v.data === undefined ? {} : { data: v.data }), ...(tokens === undefined ? {} : { tokens }) };
    const dir = await cacheDir(opts);
    // Where no cache directory is yet, one must be creatable: said before the model loads.
    // An existing one may be read-only when it holds every layer; moments.ts checks it before collecting.
    if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) await checkWritableDir(dir, '--cache');
    const loaded = await loadModel(v.model);
    const layers = expandLayers(ranges, loaded.model.config.nLayer);
    const moments = await layerMoments(loaded, layers, opts);
    console.log(`statistics of FF2's input (${loaded.model.config.nInner} x ${loaded.model.config.nInner}) in ${dir}:`);
    for (const [layer, m] of moments) console.log(`  layer ${layer}: ${m.path} (${m.meta.tokens} tokens, ${m.reused ? 'reused' : 'collected'})`);
    console.log(`corpus: ${CORPUS_NOTE}`);
  },
};
