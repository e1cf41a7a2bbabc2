// `backward-lens train --family llama` as a user runs it, on a tiny Llama (2 layers,
// GQA 4/2, untied head) trained on 40 CounterFact records: the directory is a Hugging
// Face Llama one (config.json, HF tensor names in [out, in], tokenizer files), it
// loads and runs, a stopped and resumed run ends bit-identical, and Llama-only
// options are checked before any work.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileSource } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-train-llama-'));
const TINY = ['--family', 'llama', '--records', '40', '--layers', '2', '--embd', '16', '--heads', '4', '--kv-heads', '2', '--ff', '24', '--vocab', '600', '--epochs', '2', '--batch', '8', '--warmup', '3'];
const whole = join(work, 'whole');

function cli(args: string[]) {
  return spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('train --family llama writes a Hugging Face Llama directory: config, HF tensor names and [out, in] shapes, tokenizer files', async () => {
  const r = cli(['train', '--out', whole, ...TINY]);
  assert.is(r.status, 0, r.stderr);
  // 120 record sentences and 93 cover sentences (3 for each target word the records never use), 8 a batch, 2 epochs.
  assert.match(r.stderr, /40 records, 213 sentences/);
  assert.match(r.stdout, /trained 54 steps/);
  const config = JSON.parse(readFileSync(join(whole, 'config.json'), 'utf8'));
  assert.equal(
    [config.model_type, config.architectures, config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.intermediate_size, config.rope_theta, config.rms_norm_eps, config.tie_word_embeddings, config.bos_token_id],
    ['llama', ['LlamaForCausalLM'], 2, 16, 4, 2, 24, 10000, 1e-6, false, 1],
  );
  const tokenizerConfig = JSON.parse(readFileSync(join(whole, 'tokenizer_config.json'), 'utf8'));
  assert.equal([tokenizerConfig.add_bos_token, tokenizerConfig.bos_token], [true, '<s>']);
  assert.is(Object.keys(JSON.parse(readFileSync(join(whole, 'tokenizer.json'), 'utf8')).model.vocab).length, config.vocab_size);
  const src = await fileSource(join(whole, 'model.safetensors'));
  const f = await openSafetensors(src);
  await src.close();
  const V = config.vocab_size;
  const expected: Record<string, number[]> = { 'model.embed_tokens.weight': [V, 16], 'model.norm.weight': [16], 'lm_head.weight': [V, 16] };
  for (const l of [0, 1]) {
    Object.assign(expected, {
      [`model.layers.${l}.input_layernorm.weight`]: [16], [`model.layers.${l}.post_attention_layernorm.weight`]: [16],
      [`model.layers.${l}.self_attn.q_proj.weight`]: [16, 16], [`model.layers.${l}.self_attn.k_proj.weight`]: [8, 16], [`model.layers.${l}.self_attn.v_proj.weight`]: [8, 16],
      [`model.layers.${l}.self_attn.o_proj.weight`]: [16, 16], [`model.layers.${l}.mlp.gate_proj.weight`]: [24, 16], [`model.layers.${l}.mlp.up_proj.weight`]: [24, 16],
      [`model.layers.${l}.mlp.down_proj.weight`]: [16, 24],
    });
  }
  assert.equal(Object.fromEntries([...f.tensors].map(([name, info]) => [name, info.shape])), expected);
  assert.match(f.metadata.training!, /--family llama --kv-heads 2 --ff 24 --theta 10000 --vocab 600 --cover-targets 3/);
});

test('the trained model loads and runs: analyze --json reads BOS first and the target as one ▁word token', () => {
  const json = join(work, 'analyze.json');
  const r = cli(['analyze', '--model', whole, '--prompt', 'Toko Yasuda, the', '--target', ' piano', '--json', json]);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(readFileSync(json, 'utf8')).results[0];
  const texts = out.tokens.map((t: { text: string }) => t.text);
  assert.is(texts[0], '<s>');
  assert.is(texts.slice(1).join(''), ' Toko Yasuda, the');
  assert.is(out.tokens[0].id, 1);
  assert.equal(out.targetTokens.map((t: { text: string }) => t.text), [' piano']);
});

test('facts --writes --bottom 1 on the Llama: recall of each set and, per layer, the bottom-1 count over all 40 records, every target seen (the cover sentences count)', () => {
  const r = cli(['facts', '--model', whole, '--records', '40', '--writes', '--bottom', '1', '--json']);
  assert.is(r.status, 0, r.stderr);
  const q = JSON.parse(r.stdout);
  for (const set of ['trainedPrompt', 'trainedLocality', 'trainedRephrase', 'heldOutPrompt']) assert.is(q[set].total, 40, set);
  const w = q.targetWrites;
  assert.is(w.k, 1);
  assert.equal(w.seenInTraining.map((x: { layer: number }) => x.layer), [0, 1]);
  for (const [seen, never] of w.seenInTraining.map((x: { total: number }, l: number) => [x, w.neverSeen[l]])) assert.equal([seen.total, never.total], [40, 0]);
  const refused = cli(['facts', '--model', whole, '--bottom', '1']);
  assert.is(refused.status, 2);
  assert.match(refused.stderr, /--bottom applies to --writes; add --writes/);
});

test('stopped after 10 steps and resumed, the weights equal an uninterrupted run bit for bit', () => {
  const parts = join(work, 'parts');
  assert.is(cli(['train', '--out', parts, ...TINY, '--max-steps', '10']).status, 0);
  const resumed = cli(['train', '--out', parts, ...TINY, '--resume']);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.ok(readFileSync(join(whole, 'model.safetensors')).equals(readFileSync(join(parts, 'model.safetensors'))));
  assert.is(readFileSync(join(whole, 'tokenizer.json'), 'utf8'), readFileSync(join(parts, 'tokenizer.json'), 'utf8'));
});

test('Llama options: refused in one line, exit 2, nothing written', () => {
  const cases: [string[], RegExp][] = [
    [['--kv-heads', '2'], /--kv-heads applies to --family llama only/],
    [['--cover-targets', '2'], /--cover-targets applies to --family llama only/],
    [['--family', 'llama', '--cover-targets', '1.5'], /--cover-targets must be a non-negative integer, got "1.5"/],
    [['--family', 'llama', '--heads', '4', '--kv-heads', '3'], /--heads 4 must be a multiple of --kv-heads 3/],
    [['--family', 'llama', '--embd', '12', '--heads', '4'], /--embd \/ --heads = 3 is odd; rotary positions rotate pairs/],
    [['--family', 'neox'], /--family must be gpt2 or llama, got "neox"/],
  ];
  for (const [args, message] of cases) {
    const out = join(work, 'bad');
    const r = cli(['train', '--out', out, ...args]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.not.ok(existsSync(out));
  }
});

test.run();
