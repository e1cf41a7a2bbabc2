// The commands on a Llama checkpoint, as a user runs them: a tiny random one written
// here, untied head, with a small tokenizer.json beside it. analyze names the
// checkpoint's modules (q_proj, k_proj, v_proj and gate_proj, up_proj apart, though
// the engine joins them) and selects them by name, factors writes their names, edit --out writes a directory
// that loads back under the source's names, and a directory without tokenizer.json
// is refused in one line.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import { PIECE_VOCAB } from '../model/piece-tokenizer.ts';
import { storedTensors } from '../stored-tensors.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';

const CFG: LlamaConfigRef = {
  nLayer: 2, nHead: 4, nKvHead: 2, headDim: 8, nEmbd: 32, nInner: 40, vocabSize: 320, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const PROMPT = 'The Eiffel Tower is in';
const TARGET = ' Rome';
const work = mkdtempSync(join(tmpdir(), 'bl-llama-cli-'));
let modelDir: string;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.before(async () => {
  modelDir = (await writeLlamaCheckpoint(CFG, 7)).dir;
});
test.after(() => {
  for (const dir of [work, modelDir]) rmSync(dir, { recursive: true, force: true });
});

const MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

test("analyze --json: the checkpoint's modules (q, k, v; gate, up), BOS first, the last layer's ranks (k n, v min(n, heads), the others 1); FF1 is up_proj", () => {
  const json = join(work, 'analyze.json');
  const r = cli(['analyze', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--json', json]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /FF2 \(mlp\.down_proj\)/);
  assert.match(r.stdout, /FF1 \(mlp\.up_proj\)/);
  const result = JSON.parse(readFileSync(json, 'utf8')).results[0];
  assert.equal(result.tokens.map((t: { text: string }) => t.text), ['<s>', ' The', ' Eiffel', ' Tower', ' is', ' in'], 'BOS at position 0, whole words');
  assert.equal(result.tokens[0].id, 1);
  assert.equal(result.targetTokens.map((t: { id: number }) => t.id), [PIECE_VOCAB['▁Rome']]);
  assert.equal(result.settings.modules, MODULES);
  const n = result.tokens.length;
  const last = result.layers.find((l: { layer: number }) => l.layer === CFG.nLayer - 1);
  const ranks = Object.fromEntries(last.modules.map((m: { module: string; rank: number }) => [m.module, m.rank]));
  // Only the last query reads the keys and values: v_proj's δ_j is, per query head, a
  // multiple of one vector, so its rank is at most the number of query heads; k_proj's
  // δ_j turns back through position j's rotation, so its rows stay independent.
  assert.equal(ranks, { 'self_attn.q_proj': 1, 'self_attn.k_proj': n, 'self_attn.v_proj': Math.min(n, CFG.nHead), 'self_attn.o_proj': 1, 'mlp.gate_proj': 1, 'mlp.up_proj': 1, 'mlp.down_proj': 1 });
  const { nEmbd: d, nInner: f, nHead: H, nKvHead: KV, headDim: hd } = CFG;
  const dims = Object.fromEntries(last.modules.map((m: { module: string; inDim: number; outDim: number }) => [m.module, [m.inDim, m.outDim]]));
  assert.equal(dims, { 'self_attn.q_proj': [d, H * hd], 'self_attn.k_proj': [d, KV * hd], 'self_attn.v_proj': [d, KV * hd], 'self_attn.o_proj': [H * hd, d], 'mlp.gate_proj': [d, f], 'mlp.up_proj': [d, f], 'mlp.down_proj': [f, d] });
});

test('analyze --modules self_attn.k_proj,ff1: just those modules, as in the full analysis', () => {
  const json = join(work, 'analyze-k.json');
  const r = cli(['analyze', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--modules', 'self_attn.k_proj,ff1', '--json', json]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /FF1 \(mlp\.up_proj\)/);
  assert.not.match(r.stdout, /FF2 \(/);
  const picked = JSON.parse(readFileSync(json, 'utf8')).results[0];
  const all = JSON.parse(readFileSync(join(work, 'analyze.json'), 'utf8')).results[0];
  assert.equal(picked.settings.modules, ['self_attn.k_proj', 'mlp.up_proj']);
  picked.layers.forEach((layer: { modules: { module: string }[] }, l: number) => {
    assert.equal(layer.modules.map((m) => m.module), ['self_attn.k_proj', 'mlp.up_proj']);
    for (const m of layer.modules) assert.equal(m, all.layers[l].modules.find((a: { module: string }) => a.module === m.module), `layer ${l} ${m.module}`);
  });
});

test('analyze --neurons 1.ff1: the neuron view of up_proj alone (f columns), labelled FF1', () => {
  const json = join(work, 'neurons.json');
  const r = cli(['analyze', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--layers', '1', '--neurons', '1.ff1', '--k', '2', '--json', json]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^layers\.1\.mlp\.up_proj \(FF1\): 40 gradient neurons \(columns of XᵀΔ\)/m);
  const [view] = JSON.parse(readFileSync(json, 'utf8')).neurons;
  assert.equal([view.layer, view.module, view.neuronCount], [1, 'mlp.up_proj', CFG.nInner]);
});

test("factors: layers.{l}.<module>.x / .delta under the checkpoint's module names (q, k, v, gate, up apart), and input_ids", async () => {
  const out = join(work, 'factors.safetensors');
  const r = cli(['factors', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--out', out]);
  assert.is(r.code, 0, r.stderr);
  const t = await storedTensors(out);
  const n = 6;
  const want = ['input_ids', 'logits', ...Array.from({ length: CFG.nLayer }, (_, l) => MODULES.flatMap((m) => [`layers.${l}.${m}.x`, `layers.${l}.${m}.delta`])).flat()];
  assert.equal([...t.keys()].sort(), want.sort());
  const { nEmbd: d, nInner: f, nHead: H, nKvHead: KV, headDim: hd } = CFG;
  const shapes: Record<string, [number, number]> = {
    'self_attn.q_proj': [d, H * hd], 'self_attn.k_proj': [d, KV * hd], 'self_attn.v_proj': [d, KV * hd], 'self_attn.o_proj': [H * hd, d], 'mlp.gate_proj': [d, f], 'mlp.up_proj': [d, f], 'mlp.down_proj': [f, d],
  };
  for (const [m, [inDim, outDim]] of Object.entries(shapes)) {
    assert.equal(t.get(`layers.1.${m}.x`)!.shape, [n, inDim], `${m}.x`);
    assert.equal(t.get(`layers.1.${m}.delta`)!.shape, [n, outDim], `${m}.delta`);
  }
  assert.equal(t.get('layers.1.self_attn.k_proj.x')!.data, t.get('layers.1.self_attn.q_proj.x')!.data, 'q and k read the same x');
  assert.equal(t.get('input_ids')!.shape, [n]);
});

test("edit --out (shift, sgd): the written directory loads back under the source's tensor names; shift writes lm_head's row of the target", async () => {
  const source = await storedTensors(join(modelDir, 'model.safetensors'));
  const t = PIECE_VOCAB['▁Rome']!;
  const layer = 1;
  for (const [method, extra] of [['shift', ['--lr', '0.5']], ['sgd', ['--lr', '0.5']]] as const) {
    const dir = join(work, `edited-${method}`);
    const r = cli(['edit', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--method', method, '--layers', String(layer), ...extra, '--tokens', '0', '--out', dir]);
    assert.is(r.code, 0, r.stderr);
    const edited = await storedTensors(join(dir, 'model.safetensors'));
    assert.equal([...edited.keys()].sort(), [...source.keys()].sort(), `${method}: the source's tensor names`);
    const name = `model.layers.${layer}.mlp.down_proj.weight`;
    const changed = [...edited].filter(([k, v]) => v.data && source.get(k)!.data!.some((x, i) => x !== v.data![i])).map(([k]) => k);
    assert.equal(changed, [name], `${method}: only FF2 of layer ${layer} changed`);
    const loaded = cli(['analyze', '--model', dir, '--prompt', PROMPT, '--target', TARGET, '--layers', String(layer)]);
    assert.is(loaded.code, 0, `${method}: the written directory loads: ${loaded.stderr}`);
    if (method !== 'shift') continue;
    // down_proj is [d, f]: a rank-1 shift makes every changed column parallel to e = lm_head[t], not embed_tokens[t].
    const { nEmbd: d, nInner: f } = CFG;
    const before = source.get(name)!.data!;
    const delta = edited.get(name)!.data!.map((x, i) => x - before[i]!);
    const row = (w: string) => source.get(w)!.data!.subarray(t * d, (t + 1) * d);
    const cosine = (e: Float32Array) => {
      const j = Array.from({ length: f }, (_, j) => j).reduce((a, b) => (Math.abs(delta[b]!) > Math.abs(delta[a]!) ? b : a));
      const col = Array.from({ length: d }, (_, c) => delta[c * f + j]!);
      return col.reduce((s, x, c) => s + x * e[c]!, 0) / Math.hypot(...col) / Math.hypot(...e);
    };
    assert.ok(Math.abs(cosine(row('lm_head.weight'))) > 0.9999, `the column is lm_head's row: cosine ${cosine(row('lm_head.weight'))}`);
    assert.ok(Math.abs(cosine(row('model.embed_tokens.weight'))) < 0.9, "not the embedding's");
  }
});

test('a Llama directory without tokenizer.json: one line naming the file and the fix, exit 2, before any pass', () => {
  const bare = join(work, 'bare');
  mkdirSync(bare);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(modelDir, f), join(bare, f));
  const r = cli(['analyze', '--model', bare, '--prompt', PROMPT, '--target', TARGET]);
  assert.is(r.code, 2, r.stderr);
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !/loading/.test(l));
  assert.equal(ours.length, 1, r.stderr);
  assert.match(ours[0]!, /no tokenizer\.json; put the tokenizer\.json \(and tokenizer_config\.json\) that came with the model beside its weights/);
  assert.is(r.stdout, '');
});

test.run();
