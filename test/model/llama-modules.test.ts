// The checkpoint's own modules on a Llama model: the engine joins q/k/v and gate/up
// into one matrix per role, and analyze and the factor export report each stored
// module apart, against the float64 reference (which runs q_proj, k_proj, ... as
// separate matrices) on odd shapes: x_i and δ_i row norms and factors within 1e-3 of
// each one's largest (as llama.test.ts), exact ranks equal to a float64 SVD of the
// dense gradient, δ projected where it is d-wide, and --modules by the stored names.
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { analyze } from '../../src/lens/analyze.ts';
import { factorTensors } from '../../src/lens/factor-export.ts';
import { neuronView } from '../../src/lens/neurons/view.ts';
import type { Analysis } from '../../src/lens/types.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { GradientPass } from '../../src/pass/pass.ts';
import { assertClose } from '../helpers.ts';
import { llamaBackwardRef, LLAMA_LINEARS_REF, type LlamaConfigRef, type LlamaFactorsRef, type LlamaParamsRef } from '../reference/llama.ts';
import { rmsnormRef } from '../reference/llama-ops.ts';
import { lensRowRef, nearTies } from '../reference/lens.ts';
import { matrixRankRef } from '../reference/svd.ts';
import { ODD_LLAMA, writeLlamaCheckpoint, type LlamaCheckpointOptions } from './llama-checkpoint.ts';

const BASE = ODD_LLAMA;
const PAIRS = [
  { prompt: 'The Eiffel Tower is in', target: ' Rome' },
  { prompt: 'The Tower is in Rome, the Eiffel Tower in', target: ' Paris' },
];

/** Σ_t x_tᵀ δ_t as [in, out], in float64. */
function denseRef(f: LlamaFactorsRef): Float64Array {
  const g = new Float64Array(f.inDim * f.outDim);
  for (let t = 0; t < f.rows; t++) {
    for (let i = 0; i < f.inDim; i++) {
      const x = f.x[t * f.inDim + i]!;
      if (x !== 0) for (let o = 0; o < f.outDim; o++) g[i * f.outDim + o] += x * f.delta[t * f.outDim + o]!;
    }
  }
  return g;
}

const rowNormsRef = (v: Float64Array, rows: number, cols: number) => Array.from({ length: rows }, (_, r) => Math.hypot(...v.subarray(r * cols, (r + 1) * cols)));

/**
 * The exact rank in causal attention with rotary positions: the first query sees one
 * key, whose softmax has no gradient, so q_proj's δ_0 is 0 (rank n - 1). In the last
 * layer only the last query counts (q, o, gate, up, down: 1); v's δ_j is then, per
 * query head, a multiple of one vector (at most heads), while k's turns back through
 * position j's rotation and keeps all n.
 */
function expectedRank(module: string, last: boolean, n: number, cfg: LlamaConfigRef): number {
  if (module === 'self_attn.k_proj') return n;
  if (module === 'self_attn.q_proj') return last ? 1 : n - 1;
  if (module === 'self_attn.v_proj') return last ? Math.min(n, cfg.nHead) : n;
  return last ? 1 : n;
}

async function withModel(cfg: LlamaConfigRef, opts: LlamaCheckpointOptions, run: (loaded: LoadedModel, params: LlamaParamsRef) => Promise<void>): Promise<void> {
  const { dir, params } = await writeLlamaCheckpoint(cfg, 11, opts);
  try {
    const loaded = await loadModelPath(await getEngine(), dir);
    try {
      await run(loaded, params);
    } finally {
      loaded.model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkModules(cfg: LlamaConfigRef, opts: LlamaCheckpointOptions, what: string): Promise<void> {
  await withModel(cfg, opts, async ({ model, tokenizer }, params) => {
    const d = cfg.nEmbd;
    const head = cfg.tied ? params['model.embed_tokens.weight']! : params['lm_head.weight']!;
    for (const pair of PAIRS) {
      const [a] = (await analyze(model, tokenizer, [pair], { k: 3 })) as [Analysis];
      const ids = a.tokens.map((t) => t.id);
      const n = ids.length;
      const target = a.targetTokens[0]!.id;
      const ref = llamaBackwardRef(cfg, params, ids, [{ position: n - 1, token: target }]);
      const where = `${what} n=${n}`;
      assert.equal(a.settings.modules, [...LLAMA_LINEARS_REF], where);
      for (const { layer, modules } of a.layers) {
        assert.equal(modules.map((m) => m.module), [...LLAMA_LINEARS_REF], `${where} layer ${layer}`);
        for (const m of modules) {
          const name = `layers.${layer}.${m.module}`;
          const r = ref.factors[`model.${name}`]!;
          assert.equal([m.inDim, m.outDim], [r.inDim, r.outDim], `${where} ${name} dims`);
          assertClose(m.x.map((v) => v.norm), rowNormsRef(r.x, n, r.inDim), 1e-3, `${where} ${name} ‖x_i‖`);
          assertClose(m.delta.map((v) => v.norm), rowNormsRef(r.delta, n, r.outDim), 1e-3, `${where} ${name} ‖δ_i‖`);
          assert.is(m.rank, matrixRankRef(denseRef(r), r.inDim, r.outDim, 2 ** -52), `${where} ${name} rank vs a float64 SVD`);
          // Repeated tokens give layer 0 equal x_i (rotary adds no position to x), so the pattern holds for distinct tokens only.
          if (new Set(ids).size === n) assert.is(m.rank, expectedRank(m.module, layer === cfg.nLayer - 1, n, cfg), `${where} ${name} rank`);
          assert.is(m.x[n - 1]!.top !== undefined, r.inDim === d, `${where} ${name}: x projected only when d-wide`);
          assert.is(m.delta[n - 1]!.bottom !== undefined, r.outDim === d, `${where} ${name}: δ projected only when d-wide`);
        }
        // q_proj's δ is d-wide when heads · head_dim = d: its own columns of the joined δ go through the lens.
        const q = modules[0]!;
        const rq = ref.factors[`model.layers.${layer}.self_attn.q_proj`]!;
        if (rq.outDim !== d) continue;
        const lens = lensRowRef(rmsnormRef(rq.delta.subarray((n - 1) * d, n * d), 1, d, params['model.norm.weight']!, cfg.eps), head, cfg.vocabSize, d, 3, [target], new Set(tokenizer.lensExcluded.ids));
        if (nearTies(lens, lens.bottom[0]!) === 0) assert.is(q.delta[n - 1]!.bottom![0]!.id, lens.bottom[0], `${where} layer ${layer} q_proj δ_n's least probable token`);
        assert.ok(Math.abs(q.delta[n - 1]!.targetRank! - (lens.rankFromBottom[0]! + 1)) <= nearTies(lens, target), `${where} layer ${layer} q_proj δ_n's target rank`);
      }

      const pass = GradientPass.run(model, tokenizer, [pair], { targetTokens: 'first' });
      try {
        const tensors = new Map((await factorTensors(pass, 0)).map((t) => [t.name, t]));
        const names = Array.from({ length: cfg.nLayer }, (_, l) => LLAMA_LINEARS_REF.flatMap((m) => [`layers.${l}.${m}.x`, `layers.${l}.${m}.delta`])).flat();
        assert.equal([...tensors.keys()].sort(), [...names, 'logits', 'input_ids'].sort(), `${where} factor names`);
        for (const [name, r] of Object.entries(ref.factors)) {
          const short = name.slice('model.'.length);
          const x = tensors.get(`${short}.x`)!;
          const delta = tensors.get(`${short}.delta`)!;
          assert.equal([x.shape, delta.shape], [[n, r.inDim], [n, r.outDim]], `${where} ${short} shapes`);
          assertClose(x.data as Float32Array, r.x, 1e-3, `${where} ${short}.x`);
          assertClose(delta.data as Float32Array, r.delta, 1e-3, `${where} ${short}.delta`);
        }
      } finally {
        pass.dispose();
      }
    }
  });
}

test('Llama F32, 6 heads over 2 KV heads (head_dim 12: q_proj δ is d-wide), untied, 3 layers: every stored module apart, against float64', () =>
  checkModules(BASE, {}, 'llama F32'));

test('Llama BF16 in 2 shards, 3 KV heads, head_dim 16 ≠ 72/6, tied, 2 layers: every stored module apart, against float64', () =>
  checkModules({ ...BASE, nLayer: 2, nKvHead: 3, headDim: 16, tied: true }, { dtype: 'BF16', shards: 2 }, 'llama BF16'));

test('modules by name: a stored module alone, ff1 = up_proj, a role = all its modules, each once and as in the full analysis', async () => {
  await withModel(BASE, { dtype: 'F16' }, async ({ model, tokenizer }) => {
    const pair = PAIRS[0]!;
    const [all] = (await analyze(model, tokenizer, [pair], { k: 3 })) as [Analysis];
    const cases: [string[], string[]][] = [
      [['self_attn.k_proj'], ['self_attn.k_proj']],
      [['FF1', 'mlp.gate_proj', 'ff2'], ['mlp.up_proj', 'mlp.gate_proj', 'mlp.down_proj']],
      [['attn_in', 'self_attn.v_proj'], ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj']],
      [['ff_in', 'attn.c_proj'], ['mlp.gate_proj', 'mlp.up_proj', 'self_attn.o_proj']],
    ];
    for (const [names, modules] of cases) {
      const [a] = (await analyze(model, tokenizer, [pair], { k: 3, modules: names, layers: [0, 2] })) as [Analysis];
      assert.equal(a.settings.modules, modules, names.join(','));
      for (const layer of a.layers) {
        const full = all.layers[layer.layer]!.modules;
        for (const m of layer.modules) assert.equal(m, full.find((f) => f.module === m.module), `${names.join(',')}: layer ${layer.layer} ${m.module}`);
      }
    }
    const refused = await analyze(model, tokenizer, [pair], { modules: ['self_attn.w_proj'] }).then(() => undefined, (e: Error) => e);
    assert.match(String(refused), /^BadInputError: unknown module "self_attn\.w_proj": choose from .*self_attn\.k_proj/);
  });
});

test("the neuron view of a stored part: ff1 is up_proj's f columns of the joined gradient, with norms as the float64 reference's; ff_in is gate and up together", async () => {
  await withModel(BASE, {}, async ({ model, tokenizer }, params) => {
    const pair = PAIRS[0]!;
    const pass = GradientPass.run(model, tokenizer, [pair], { targetTokens: 'first' });
    try {
      const ids = pass.pairs[0]!.ids;
      const ref = llamaBackwardRef(BASE, params, ids, [{ position: ids.length - 1, token: pass.pairs[0]!.targetIds[0]! }]);
      const layer = 1;
      for (const [module, stored] of [['ff1', 'mlp.up_proj'], ['mlp.gate_proj', 'mlp.gate_proj'], ['self_attn.k_proj', 'self_attn.k_proj']] as const) {
        const role = module === 'self_attn.k_proj' ? 'attn_in' : 'ff_in';
        const view = await neuronView(pass, tokenizer, { layer, role, module, pair: 0 }, { k: 3, normalized: false });
        const r = ref.factors[`model.layers.${layer}.${stored}`]!;
        assert.equal([view.module, view.orientation, view.neuronCount], [stored, 'columns', r.outDim], module);
        const dense = denseRef(r);
        const columnNorms = Array.from({ length: r.outDim }, (_, j) => Math.hypot(...Array.from({ length: r.inDim }, (_, i) => dense[i * r.outDim + j]!)));
        assertClose(view.norms, columnNorms, 1e-3, `${module} neuron norms`);
      }
      const whole = await neuronView(pass, tokenizer, { layer, role: 'ff_in', module: 'ff_in', pair: 0 }, { k: 3, normalized: false });
      assert.equal([whole.module, whole.neuronCount], ['mlp.{gate,up}_proj', 2 * BASE.nInner]);
    } finally {
      pass.dispose();
    }
  });
});

test.run();
