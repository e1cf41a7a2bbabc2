// `backward-lens analyze` as a user runs it: the grid, the JSON, HTML and factor
// files, JSONL batches, and bad input answered with one line, exit 2 and no file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Analysis } from '../../src/lens/types.ts';
import { gpt2 as gpt2Family, gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { fileSource, writeSafetensorsFile } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import type { Report } from '../../src/report/json.ts';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';
import { gpt2ParamShapesRef, randomGpt2ParamsRef } from '../reference/gpt2.ts';

/** GPT-2's module names, in role order (attn_in, attn_out, ff_in, ff_out). */
const LINEAR_MODULES = Object.values(gpt2Family.modules);

// 12 heads keep attn.c_attn's gradient at full rank n for these prompts (see analyze.test.ts).
const CFG: Gpt2Sizes = { nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 16, vocabSize: 50257, nInner: 192, eps: 1e-5 };
const PROMPT = 'Lionel Messi plays for';
const TARGET = ' Paris';
const work = mkdtempSync(join(tmpdir(), 'bl-analyze-'));
let modelDir: string;
let asciiModelDir: string;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'analyze', ...args], { encoding: 'utf8' });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.join('\n') };
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Report;
const out = (name: string) => join(work, name);

/** A model whose reduced vocabulary holds only the printable ASCII characters, one token each. */
async function writeAsciiModel(): Promise<string> {
  const gpt2 = new Gpt2Tokenizer();
  const vocab = [...new Set(Array.from({ length: 95 }, (_, i) => gpt2.encode(String.fromCharCode(32 + i))[0]!))];
  const cfg = { ...CFG, nLayer: 2, vocabSize: vocab.length };
  const params = randomGpt2ParamsRef(cfg, 4, 0.3);
  const dir = mkdtempSync(join(tmpdir(), 'bl-ascii-'));
  const tensors = Object.entries(gpt2ParamShapesRef(cfg)).map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: Float32Array.from(params[name]!) }));
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { vocab: JSON.stringify(vocab) });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2Family.writeConfig(gpt2Config(cfg))));
  return dir;
}

test.before(async () => {
  modelDir = (await writeRandomCheckpoint(CFG, 12)).dir;
  asciiModelDir = await writeAsciiModel();
});
test.after(() => {
  for (const dir of [work, modelDir, asciiModelDir]) rmSync(dir, { recursive: true, force: true });
});

test('--help explains the grid, x_i and δ_i, the modules, with examples', () => {
  const r = cli(['--help']);
  assert.is(r.code, 0);
  for (const word of ['x_i', 'δ_i', 'LEAST probable', 'attn.c_attn', 'mlp.c_fc', 'mlp.c_proj', '--pairs', 'Examples:']) assert.ok(r.stdout.includes(word), word);
  const top = spawnSync(process.execPath, ['dist/cli.js', '--help'], { encoding: 'utf8' });
  assert.match(top.stdout, /analyze/);
});

test('one pair: the grid on stdout, JSON with every layer and module, HTML, loadable factors', async () => {
  const [json, html, factors] = [out('one.json'), out('one.html'), out('one.safetensors')];
  const r = cli(['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--json', json, '--html', html, '--save-factors', factors]);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stdout, /\x1b\[/, 'no colour when stdout is a pipe');
  assert.match(r.stdout, /FF2 \(mlp\.c_proj\)/);
  assert.match(r.stdout, /FF1 \(mlp\.c_fc\)/);
  // The last layer on top, and its last cell is the target (Lemma 5.1 holds for δ_n).
  const rows = r.stdout.split('\n').filter((l) => /^\s+\d+ │/.test(l));
  assert.equal(rows.slice(0, 3).map((l) => Number(l.split('│')[0])), [2, 1, 0]);
  assert.match(rows[0]!, /\*Paris\*\s*$/);
  assert.match(r.stdout, /loss [\d.]+ · the model answers ".*" \(p .*\) · target " Paris"/);

  const doc = readJson(json);
  assert.is(doc.version, 1);
  assert.is(doc.model.nLayer, CFG.nLayer);
  assert.is(doc.model.vocabSize, CFG.vocabSize);
  const bytes = 4 * Object.values(gpt2ParamShapesRef(CFG)).reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(doc.model.memory, { bytes, byDtype: { f32: bytes } }, 'the weights\' device memory');
  assert.is(doc.results.length, 1);
  const a = doc.results[0]!;
  assert.is(a.prompt, PROMPT);
  assert.equal(a.layers.map((l) => l.layer), [0, 1, 2]);
  for (const l of a.layers) {
    assert.equal(l.modules.map((m) => m.module), [...LINEAR_MODULES]);
    for (const m of l.modules) assert.is(m.x.length, a.tokens.length);
  }
  assert.ok(readFileSync(html, 'utf8').startsWith('<!doctype html>'));

  const src = await fileSource(factors);
  try {
    const f = await openSafetensors(src);
    assert.is(f.tensors.size, CFG.nLayer * 8 + 2);
    assert.equal(f.tensors.get('h.2.mlp.c_fc.x')!.shape, [a.tokens.length, CFG.nEmbd]);
    assert.equal(Array.from(await f.readI32('input_ids')), a.tokens.map((t) => t.id));
    assert.is(f.metadata.target, TARGET);
  } finally {
    await src.close();
  }
});

test('--target-tokens all: the forced target tokens are extra, marked grid columns and JSON rows', () => {
  const json = out('forced.json');
  const r = cli(['--model', modelDir, '--prompt', PROMPT, '--target', ' Paris Saint', '--target-tokens', 'all', '--json', json, '--modules', 'mlp.c_proj']);
  assert.is(r.code, 0, r.stderr);
  const header = r.stdout.split('\n').find((l) => l.startsWith('layer │'))!;
  assert.match(header, /→ Paris/);
  assert.match(r.stdout, /n = \d+ prompt tokens \+ 1 teacher-forced target token/);
  const a = readJson(json).results[0]!;
  assert.equal(a.forced.map((t) => t.text), [' Paris']);
  assert.is(a.layers[0]!.modules[0]!.delta.length, a.tokens.length + 1);
});

test('--layers, --modules and --k select what is analysed; a missing module drops its grid', () => {
  const json = out('some.json');
  const r = cli(['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--layers', '0,2', '--modules', 'mlp.c_proj', '--k', '3', '--normalized', '--json', json]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /FF2/);
  assert.not.match(r.stdout, /FF1/);
  const a = readJson(json).results[0]!;
  assert.equal(a.layers.map((l) => l.layer), [0, 2]);
  assert.equal(a.layers[0]!.modules.map((m) => m.module), ['mlp.c_proj']);
  assert.is(a.layers[0]!.modules[0]!.delta[0]!.bottom!.length, 3);
  assert.is(a.settings.normalized, true);
});

test('--neurons: the per-neuron view in the terminal, the JSON and the HTML, one per pair', () => {
  const json = out('neurons.json');
  const html = out('neurons.html');
  const r = cli(['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--layers', '2', '--neurons', '2.ff2', '--k', '3', '--json', json, '--html', html, '--no-color']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /mlp\.c_proj/);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /Per-neuron view of h\.2\.mlp\.c_proj/);
  assert.match(page, /Gradient neurons by norm/);
  const doc = readJson(json);
  assert.is(doc.neurons?.length, 1);
  const view = doc.neurons![0]!;
  assert.is(view.module, 'mlp.c_proj');
  assert.is(view.neuronCount, CFG.nInner);
  assert.equal(view.groups.map((g) => g.name), ['largest', 'median', 'smallest']);
  const bad = cli(['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--neurons', '9.ff2']);
  assert.is(bad.code, 2);
  assert.match(bad.error, /layer 9 does not exist/);
});

test('--pairs: a JSONL batch of three pairs gives three grids, three results, three HTML sections', () => {
  const pairs = out('pairs.jsonl');
  const records = [{ prompt: PROMPT, target: TARGET }, { prompt: 'The capital of Italy is', target: ' Rome' }, { prompt: 'Obama grew up in', target: ' Hawaii' }];
  writeFileSync(pairs, `${records.map((p) => JSON.stringify(p)).join('\n')}\n\n`);
  const [json, html] = [out('batch.json'), out('batch.html')];
  const r = cli(['--model', modelDir, '--pairs', pairs, '--json', json, '--html', html]);
  assert.is(r.code, 0, r.stderr);
  assert.equal([...r.stdout.matchAll(/^pair (\d) of 3: /gm)].map((m) => Number(m[1])), [1, 2, 3]);
  const results: Analysis[] = [...readJson(json).results];
  assert.equal(results.map((a) => [a.prompt, a.target]), records.map((p) => [p.prompt, p.target]));
  assert.is([...readFileSync(html, 'utf8').matchAll(/<section class="pair"/g)].length, 3);
});

const jsonl = (name: string, text: string) => {
  writeFileSync(out(name), text);
  return out(name);
};

const badInputs: [string, () => string[], RegExp][] = [
  ['an empty prompt', () => ['--prompt', '', '--target', TARGET], /prompt is empty/],
  ['a prompt longer than the context', () => ['--prompt', 'word '.repeat(40), '--target', TARGET], /context is 16/],
  ['a target the vocabulary cannot encode', () => ['--model', asciiModelDir, '--prompt', 'Messi plays for', '--target', ' café'], /target cannot be encoded by this model's vocabulary: cannot encode " café"/],
  ['an unknown module', () => ['--prompt', PROMPT, '--target', TARGET, '--modules', 'mlp.c_fc,mlp.fc3'], /unknown module "mlp\.fc3": choose from/],
  ['a layer range that runs backwards', () => ['--prompt', PROMPT, '--target', TARGET, '--layers', '2-0'], /range 2-0 runs backwards/],
  ['a layer that is no number', () => ['--prompt', PROMPT, '--target', TARGET, '--layers', '0,x'], /"x" is not a layer/],
  ['a layer the model lacks', () => ['--prompt', PROMPT, '--target', TARGET, '--layers', '1-3'], /layer 3 does not exist: this model has layers 0-2/],
  ['--k 0', () => ['--prompt', PROMPT, '--target', TARGET, '--k', '0'], /k = 0/],
  ['JSONL that is not JSON', () => ['--pairs', jsonl('bad.jsonl', '{"prompt": "a", "target": " b"}\n{"prompt": "a",\n')], /bad\.jsonl line 2: not valid JSON/],
  ['a JSONL line without a target', () => ['--pairs', jsonl('notarget.jsonl', '\n{"prompt": "a"}\n')], /notarget\.jsonl line 2: expected \{"prompt"/],
  ['a JSONL pair with an empty prompt', () => ['--pairs', jsonl('empty.jsonl', '{"prompt": "a", "target": " b"}\n{"prompt": "", "target": " b"}\n')], /empty\.jsonl line 2: the prompt is empty/],
  ['an empty JSONL file', () => ['--pairs', jsonl('none.jsonl', '\n')], /no pairs in the file/],
  ['a batch with --save-factors', () => ['--pairs', jsonl('two.jsonl', '{"prompt": "a", "target": " b"}\n{"prompt": "c", "target": " d"}\n'), '--save-factors', out('bad.safetensors')], /--save-factors takes one pair, but --pairs gave 2/],
  ['an output directory that does not exist', () => ['--prompt', PROMPT, '--target', TARGET, '--html', join(work, 'nope', 'r.html')], /does not exist/],
];

for (const [what, args, message] of badInputs) {
  test(`analyze with ${what}: one line, exit 2, no output file`, () => {
    const files = [out('bad.json'), out('bad.html'), out('bad.safetensors')];
    const given = args();
    // A batch refuses --save-factors before anything else, so only single pairs get it here.
    const factors = given.includes('--pairs') ? [] : ['--save-factors', files[2]!];
    // The case's own arguments come last: parseArgs keeps an option's last value.
    const r = cli(['--model', modelDir, '--json', files[0]!, '--html', files[1]!, ...factors, ...given]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.error, message, r.error);
    assert.is(r.error.split('\n').length, 1, r.error);
    for (const f of files) assert.not.ok(existsSync(f), `${f} was written`);
  });
}

test.run();
