// The model seam: the family registry, GPT-2's tensor names both ways, the switch
// values not implemented yet, and module names by role.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseModuleNames } from '../../src/cli/analyze.ts';
import { parseNeuronSpec } from '../../src/cli/neurons-spec.ts';
import { BadModelError, checkSupported, parameterShapes, type ModelConfig } from '../../src/model/config.ts';
import { gpt2, gpt2Config } from '../../src/model/families/gpt2.ts';
import { blockModules, checkpointShapes, paperRole, readConfig, roleNamed } from '../../src/model/families/index.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';

const SIZES = { nLayer: 2, nHead: 2, nEmbd: 8, nPositions: 16, vocabSize: 11, nInner: 32, eps: 1e-5 };

const throwsBadModel = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: Error) => e instanceof BadModelError && message.test(e.message));

test('registry: an unknown model_type is one line that lists the supported ones', () => {
  const json = { ...gpt2.writeConfig(gpt2Config(SIZES)), model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'] };
  throwsBadModel(() => readConfig(json, 'config.json'), /^config\.json: model_type "gemma2" is not supported; this engine reads gpt2, llama, mistral, qwen2, gpt_neox$/);
  throwsBadModel(() => readConfig({ architectures: ['PhiForCausalLM'] }, 'config.json'), /"PhiForCausalLM" is not supported; this engine reads gpt2, llama, mistral, qwen2, gpt_neox$/);
});

test('loading: a checkpoint whose config.json names another family is refused in one line', async () => {
  const { dir } = await writeRandomCheckpoint(SIZES, 1);
  try {
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...json, model_type: 'phi3', architectures: ['Phi3ForCausalLM'] }));
    await loadModelPath(await getEngine(), dir).then(() => assert.unreachable('loaded'), (e: Error) => {
      assert.instance(e, BadModelError);
      assert.is(e.message, 'config.json: model_type "phi3" is not supported; this engine reads gpt2, llama, mistral, qwen2, gpt_neox');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registry: model_type gpt2, the GPT-2 architecture alone, or neither (files from before families) read as GPT-2', () => {
  const json = gpt2.writeConfig(gpt2Config(SIZES));
  const bare = Object.fromEntries(Object.entries(json).filter(([k]) => k !== 'model_type' && k !== 'architectures'));
  for (const o of [json, { ...bare, architectures: ['GPT2LMHeadModel'] }, bare]) assert.equal(readConfig(o, 'config.json'), gpt2Config({ ...SIZES, activation: 'gelu_new' }));
});

test('GPT-2 names: every parameter to its checkpoint name and back, with or without transformer.; masks are no parameters', () => {
  const cfg = gpt2Config(SIZES);
  for (const name of parameterShapes(cfg).keys()) {
    const stored = gpt2.checkpointName(name);
    assert.is(gpt2.canonical(stored), name, stored);
    assert.is(gpt2.canonical(`transformer.${stored}`), name, stored);
  }
  assert.equal([...checkpointShapes(cfg).keys()].slice(0, 14), [
    'wte.weight', 'wpe.weight', 'h.0.ln_1.weight', 'h.0.ln_1.bias', 'h.0.attn.c_attn.weight', 'h.0.attn.c_attn.bias', 'h.0.attn.c_proj.weight',
    'h.0.attn.c_proj.bias', 'h.0.ln_2.weight', 'h.0.ln_2.bias', 'h.0.mlp.c_fc.weight', 'h.0.mlp.c_fc.bias', 'h.0.mlp.c_proj.weight', 'h.0.mlp.c_proj.bias',
  ]);
  assert.equal([...checkpointShapes(cfg).keys()].slice(-2), ['ln_f.weight', 'ln_f.bias']);
  assert.is(gpt2.canonical('lm_head.weight'), 'unembed.weight');
  assert.is(gpt2.checkpointName('blocks.1.ff_out.weight'), 'h.1.mlp.c_proj.weight');
  for (const buffer of ['h.0.attn.bias', 'transformer.h.1.attn.masked_bias']) assert.is(gpt2.canonical(buffer), null, buffer);
  for (const unknown of ['h.0.mlp.c_gate.weight', 'constructor.weight', 'h.0.toString.bias', 'score.weight']) assert.is(gpt2.canonical(unknown), undefined, unknown);
  throwsBadModel(() => gpt2.checkpointName('blocks.0.gate.weight'), /no tensor for the canonical parameter blocks\.0\.gate\.weight/);
  assert.is(gpt2.linearName(3, 'attn_in'), 'h.3.attn.c_attn');
});

test('switches: the values without kernels yet are refused as not yet supported, naming the switch; the Llama and NeoX ones run', () => {
  const base = gpt2Config(SIZES);
  checkSupported(base);
  const llama: Partial<ModelConfig> = {
    norm: 'rmsnorm', position: { kind: 'rotary', base: 10000, dims: 8, scaling: { type: 'default' } }, activation: 'silu', gated: true, headDim: 8, nKvHead: 1,
    bias: { attn_in: true, attn_out: false, ff_in: false, ff_out: false }, weightLayout: 'out_in', tiedHead: false,
  };
  checkSupported({ ...base, ...llama });
  checkSupported({ ...base, parallelResidual: true, qkvPerHead: true });
  const cases: [Partial<ModelConfig>, RegExp][] = [
    [{ activation: 'silu', gated: false }, /^activation silu without a gate is not yet supported by this engine \(model family gpt2\)$/],
    [{ gated: true }, /^activation gated gelu_new is not yet supported/],
    [{ qkvPerHead: true, nKvHead: 1 }, /^per-head q\/k\/v with grouped key\/value heads is not yet supported/],
  ];
  for (const [change, message] of cases) throwsBadModel(() => checkSupported({ ...base, ...change }), message);
});

test('roles: --modules and --neurons take roles, ff1/ff2 and checkpoint names, any case', () => {
  assert.equal(parseModuleNames('ff_out,attn_in'), ['ff_out', 'attn_in']);
  assert.equal(parseModuleNames('FF2,mlp.c_proj,mlp.c_fc'), ['ff2', 'mlp.c_proj', 'mlp.c_fc']);
  assert.equal(parseModuleNames('self_attn.K_proj,FF1,ff1'), ['self_attn.k_proj', 'ff1']);
  assert.throws(() => parseModuleNames('ln_1'), /unknown module "ln_1": choose from attn\.c_attn, attn\.c_proj, mlp\.c_fc, mlp\.c_proj, self_attn\.q_proj, self_attn\.k_proj, self_attn\.v_proj, self_attn\.o_proj, mlp\.gate_proj, mlp\.up_proj, mlp\.down_proj, attention\.query_key_value, attention\.dense, mlp\.dense_h_to_4h, mlp\.dense_4h_to_h, ff1, ff2, attn_in, attn_out, ff_in, ff_out$/);
  assert.equal(parseNeuronSpec('1.ATTN_OUT', 2), { layer: 1, role: 'attn_out', module: 'attn_out' });
  assert.is(roleNamed('Attn.C_Attn'), 'attn_in');
  assert.is(roleNamed('wte'), undefined);
  assert.is(roleNamed('constructor'), undefined);
  assert.equal(['mlp.c_fc', 'mlp.up_proj', 'mlp.gate_proj', 'mlp.{gate,up}_proj', 'mlp.c_proj', 'mlp.down_proj', 'self_attn.q_proj'].map(paperRole), ['ff_in', 'ff_in', undefined, undefined, 'ff_out', 'ff_out', undefined]);
});

test("block modules: a role is its stored modules with their columns of the role's output; GPT-2's are whole", () => {
  const llamaConfig = readConfig({ model_type: 'llama', hidden_size: 72, intermediate_size: 200, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 3, head_dim: 16, vocab_size: 503 }, 'config.json');
  const spans = (names?: string[]) => blockModules(llamaConfig, names).map((m) => [m.name, m.from, m.width, m.whole]);
  assert.equal(spans(), [
    ['self_attn.q_proj', 0, 96, false], ['self_attn.k_proj', 96, 48, false], ['self_attn.v_proj', 144, 48, false], ['self_attn.o_proj', 0, 72, true],
    ['mlp.gate_proj', 0, 200, false], ['mlp.up_proj', 200, 200, false], ['mlp.down_proj', 0, 72, true],
  ]);
  assert.equal(spans(['ff2', 'ff1', 'mlp.c_fc', 'self_attn.v_proj']), [['mlp.down_proj', 0, 72, true], ['mlp.up_proj', 200, 200, false], ['mlp.gate_proj', 0, 200, false], ['self_attn.v_proj', 144, 48, false]]);
  assert.equal(blockModules(gpt2Config(SIZES), ['ff1', 'self_attn.k_proj']).map((m) => [m.name, m.from, m.width, m.whole]), [['mlp.c_fc', 0, SIZES.nInner, true], ['attn.c_attn', 0, 3 * SIZES.nEmbd, true]]);
});

test.run();
