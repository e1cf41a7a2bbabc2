// The CLI at the edges (issue 14): activations the engine lacks, weights or logits
// that are not finite, several output files written as a set, text that the
// default model's reduced vocabulary can only spell in bytes, and small traps.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Analysis } from '../../src/lens/types.ts';
import { gpt2 as gpt2Family, gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { readConfig } from '../../src/model/families/index.ts';
import { fileSource, writeSafetensorsFile } from '../../src/model/node-file.ts';
import { openSafetensors, type TensorToWrite } from '../../src/model/safetensors.ts';
import type { Report } from '../../src/report/json.ts';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';
import { gpt2ParamShapesRef, randomGpt2ParamsRef } from '../reference/gpt2.ts';

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 4, nEmbd: 48, nPositions: 16, vocabSize: 50257, nInner: 192, eps: 1e-5 };
const work = mkdtempSync(join(tmpdir(), 'bl-edges-'));
const DEFAULT_LAYERS = 4;
const PROMPT = 'Michel Denisot spoke the language';

function cli(args: string[], shell?: string) {
  const r = shell === undefined
    ? spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' })
    : spawnSync('bash', ['-c', `${shell}; exec "$0" dist/cli.js "$@"`, process.execPath, ...args], { encoding: 'utf8' });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading') && !l.includes('warning:'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.join('\n'), loaded: r.stderr.includes('loading') };
}

type Edit = (params: Record<string, Float32Array>) => void;

/** A random checkpoint directory; `edit` changes the weights, `config` the config.json, `dtype` the storage. */
async function checkpoint(name: string, opts: { edit?: Edit; config?: Record<string, unknown>; dtype?: 'F32' | 'F16' } = {}): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  const drawn = randomGpt2ParamsRef(CFG, 3, 0.3);
  const params = Object.fromEntries(Object.entries(drawn).map(([n, v]) => [n, Float32Array.from(v)]));
  opts.edit?.(params);
  const tensors: TensorToWrite[] = Object.entries(gpt2ParamShapesRef(CFG)).map(([n, shape]) => ({ name: n, dtype: opts.dtype ?? 'F32', shape, data: params[n]! }));
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...gpt2Family.writeConfig(gpt2Config(CFG)), ...opts.config }));
  return dir;
}

const analyzeArgs = (dir: string) => ['analyze', '--model', dir, '--prompt', 'Lionel Messi plays for', '--target', ' Paris', '--no-color'];

test.after(() => rmSync(work, { recursive: true, force: true }));

// Item 2: activation_function.

test('config: activation_function is read into Gpt2Sizes; the tanh GELU names mean gelu_new, gelu_python means gelu', () => {
  const base = gpt2Family.writeConfig(gpt2Config(CFG));
  const expected = { gelu_new: 'gelu_new', gelu_fast: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu: 'gelu', gelu_python: 'gelu', relu: 'relu' };
  for (const [name, activation] of Object.entries(expected)) {
    assert.is(readConfig({ ...base, activation_function: name }, 'config.json').activation, activation, name);
  }
  assert.is(readConfig({ ...base, activation_function: undefined }, 'config.json').activation, 'gelu_new');
});

test('a relu model runs and says so in the JSON; an activation the engine lacks (silu) is refused with one line', async () => {
  const json = join(work, 'relu.json');
  const r = cli([...analyzeArgs(await checkpoint('relu', { config: { activation_function: 'relu' } })), '--layers', '1', '--json', json]);
  assert.is(r.code, 0, r.stderr);
  assert.is((JSON.parse(readFileSync(json, 'utf8')) as Report).model.activation, 'relu');
  const silu = cli(analyzeArgs(await checkpoint('silu', { config: { activation_function: 'silu' } })));
  assert.is(silu.code, 2, silu.stderr);
  assert.match(silu.error, /config\.json: activation_function "silu" is not implemented; this engine runs gelu_new, gelu_fast, gelu_pytorch_tanh, gelu, gelu_python, relu$/);
  assert.is(silu.error.split('\n').length, 1, silu.error);
});

// Item 3: non-finite weights and logits.

test('a weight holding NaN is refused at load, naming the tensor', async () => {
  const dir = await checkpoint('nan', { edit: (p) => { p['h.1.mlp.c_fc.weight']![77] = NaN; } });
  const r = cli(analyzeArgs(dir));
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /tensor h\.1\.mlp\.c_fc\.weight holds NaN at element 77; the weights are damaged/);
  assert.is(r.error.split('\n').length, 1, r.error);
});

test('an infinite F16 weight is refused at load, naming the tensor', async () => {
  const dir = await checkpoint('inf16', { dtype: 'F16', edit: (p) => { p['h.0.ln_1.bias']![3] = 1e6; } });
  const r = cli(analyzeArgs(dir));
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /tensor h\.0\.ln_1\.bias holds Infinity at element 3/);
  // A matrix stays 16-bit on the device: its halves are checked as they stream in.
  const matrix = await checkpoint('inf16-matrix', { dtype: 'F16', edit: (p) => { p['h.1.mlp.c_fc.weight']![5] = -1e6; } });
  const m = cli(analyzeArgs(matrix));
  assert.is(m.code, 2, m.stderr);
  assert.match(m.error, /tensor h\.1\.mlp\.c_fc\.weight holds -Infinity at element 5/);
});

test('finite weights whose logits overflow float32: the error says so instead of naming token id -1', async () => {
  const dir = await checkpoint('overflow', { edit: (p) => { p['ln_f.bias']!.fill(3e38); p['wte.weight']!.fill(1, 0, CFG.nEmbd); } });
  const r = cli(analyzeArgs(dir));
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /logits .* hold Infinity .*overflowed float32/);
  assert.not.match(r.error, /-1/);
});

// Item 4: output files as a set.

test('--json X --html X: refused before the model loads, not one overwriting the other', () => {
  const same = join(work, 'same.out');
  const r = cli(['analyze', '--prompt', PROMPT, '--target', ' Russian', '--json', same, '--html', same]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /--json and --html both name .*same\.out/);
  assert.not.ok(r.loaded, 'the model was loaded');
  assert.not.ok(existsSync(same));
});

test('factors --out into a missing directory or under /proc fails before the model loads', () => {
  for (const [out, message] of [[join(work, 'nodir', 'f.safetensors'), /directory .*nodir does not exist/], ['/proc/f.safetensors', /kernel or device file system/]] as const) {
    const r = cli(['factors', '--prompt', 'a b', '--target', ' c', '--out', out]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.error, message);
    assert.not.ok(r.loaded, `${out}: the model was loaded and run first`);
  }
});

test('an output that cannot be written leaves the other outputs untouched and no temporary file', () => {
  // Files above 1 MB fail (EFBIG): the 64-token prompt's factors (~2 MB) do, its JSON and HTML (< 0.6 MB) do not.
  const dir = join(work, 'keep');
  mkdirSync(dir);
  const [json, html, factors] = ['a.json', 'a.html', 'a.safetensors'].map((f) => join(dir, f));
  writeFileSync(json, 'old json');
  writeFileSync(html, 'old html');
  const prompt = Array(60).fill('the').join(' ');
  // SwiftShader: lavapipe backs GPU memory with memfd files, which the file-size limit caps too (SIGBUS).
  const r = cli(['analyze', '--prompt', prompt, '--target', ' Russian', '--k', '1', '--json', json, '--html', html, '--save-factors', factors], "trap '' XFSZ; ulimit -f 1024; export BACKWARD_LENS_ADAPTER=swiftshader");
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /--save-factors .*a\.safetensors: cannot write: .*no output file was changed/);
  assert.is(readFileSync(json, 'utf8'), 'old json');
  assert.is(readFileSync(html, 'utf8'), 'old html');
  assert.equal(readdirSync(dir).sort(), ['a.html', 'a.json']);
});

// Item 5: text the reduced vocabulary spells in bytes.

test('a target spelled in single bytes ("Russian" without a space): a warning shows the tokens, JSON carries it, --strict refuses', () => {
  const json = join(work, 'russian.json');
  const r = cli(['analyze', '--prompt', PROMPT, '--target', 'Russian', '--json', json, '--no-color']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: the target "Russian" has GPT-2 tokens this model's vocabulary lacks \("Russian"\), spelled in single bytes: it runs as "R" "u" "s" "s" "i" "a" "n"/);
  assert.match(r.stderr, /warning: the target "Russian" starts with the token "R", a single byte/);
  const a = (JSON.parse(readFileSync(json, 'utf8')) as Report).results[0] as Analysis;
  assert.is(a.warnings.length, 2);
  assert.match(a.warnings[0]!, /"R" "u" "s"/);
  const strict = cli(['analyze', '--prompt', PROMPT, '--target', 'Russian', '--strict']);
  assert.is(strict.code, 2, strict.stderr);
  assert.match(strict.error, /the target "Russian" has GPT-2 tokens .* \(--strict\)$/);
  assert.not.match(strict.stderr, /analysed/);
});

test('a long word and a prompt word missing from the vocabulary: warned with their tokens; factors --strict refuses', () => {
  const r = cli(['analyze', '--prompt', 'Pneumonoultramicroscopicsilicovolcanoconiosis is a', '--target', ' Pneumonoultramicroscopicsilicovolcanoconiosis', '--layers', '3', '--no-color']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: the prompt "Pneumono\w+ is a" has GPT-2 tokens .* it runs as "P"/);
  assert.match(r.stderr, /warning: the target " Pneumono\w+" has GPT-2 tokens .* it runs as " P" "n" "e"/);
  const f = cli(['factors', '--prompt', 'He spoke', '--target', 'Russian', '--strict', '--out', join(work, 'strict.safetensors')]);
  assert.is(f.code, 2, f.stderr);
  assert.match(f.error, /--strict/);
  const plain = cli(['analyze', '--prompt', PROMPT, '--target', ' Russian', '--layers', '3', '--strict', '--no-color']);
  assert.is(plain.code, 0, plain.stderr);
  assert.not.match(plain.stderr, /warning/);
});

// Item 7: small traps.

test('--version prints the package version', () => {
  const r = cli(['--version']);
  assert.is(r.code, 0);
  assert.is(r.stdout.trim(), `backward-lens ${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}`);
});

test('--modules accepts ff1 and ff2 as --neurons does; analyze --help examples use layers the default model has', () => {
  const json = join(work, 'ff.json');
  const r = cli(['analyze', '--prompt', PROMPT, '--target', ' Russian', '--modules', 'ff2,FF1', '--layers', '3', '--json', json, '--no-color']);
  assert.is(r.code, 0, r.stderr);
  const a = (JSON.parse(readFileSync(json, 'utf8')) as Report).results[0] as Analysis;
  assert.equal(a.settings.modules, ['mlp.c_proj', 'mlp.c_fc']);
  const bad = cli(['analyze', '--prompt', PROMPT, '--target', ' Russian', '--modules', 'ff3']);
  assert.is(bad.code, 2);
  assert.match(bad.error, /unknown module "ff3": choose from .*ff1, ff2/);
  const help = cli(['analyze', '--help']).stdout;
  const examples = help.slice(help.indexOf('Examples:'));
  for (const m of examples.matchAll(/--layers (\S+)/g)) {
    for (const n of m[1]!.split(/[-,]/)) assert.ok(Number(n) < DEFAULT_LAYERS, `example layer ${n} of "${m[0]}"`);
  }
});

test('factors under a reduced vocabulary: metadata "vocab" maps model ids to GPT-2 ids', async () => {
  const out = join(work, 'vocab.safetensors');
  const r = cli(['factors', '--prompt', PROMPT, '--target', ' Russian', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  const model = await fileSource('weights/default/model.safetensors');
  const factors = await fileSource(out);
  try {
    const [m, f] = [await openSafetensors(model), await openSafetensors(factors)];
    assert.ok(f.metadata.vocab !== undefined, 'no vocab metadata');
    assert.is(f.metadata.vocab, m.metadata.vocab);
    const vocab = JSON.parse(f.metadata.vocab!) as number[];
    const ids = Array.from(await f.readI32('input_ids'), (id) => vocab[id]);
    assert.equal(ids, new Gpt2Tokenizer().encode(PROMPT));
  } finally {
    await model.close();
    await factors.close();
  }
});

test('weights in an unsupported dtype (F8_E4M3): refused as such, before anything is uploaded', async () => {
  const dir = await checkpoint('f8');
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
  // A consistent F8 tensor: one byte per element, the data section rebuilt.
  const names = Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[a]!.data_offsets[0]! - header[b]!.data_offsets[0]!);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const name of names) {
    const e = header[name]!;
    let chunk = bytes.subarray(8 + n + e.data_offsets[0]!, 8 + n + e.data_offsets[1]!);
    if (name === 'ln_f.weight') {
      chunk = Buffer.alloc(chunk.length / 4, 0x38);
      e.dtype = 'F8_E4M3';
    }
    e.data_offsets = [at, at + chunk.length];
    at += chunk.length;
    chunks.push(chunk);
  }
  const text = Buffer.from(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(path, Buffer.concat([length, text, ...chunks]));
  const r = cli(analyzeArgs(dir));
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /tensor ln_f\.weight has dtype F8_E4M3, which is not supported for weights \(F32, F16, BF16, F64\)/);
});

test('bench/model.js --help prints its usage and exits 0', () => {
  const r = spawnSync(process.execPath, ['dist/bench/model.js', '--help'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /--analyze-reps N/);
});

test.run();
