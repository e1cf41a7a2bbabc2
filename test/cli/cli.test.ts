// The built CLI as a user runs it: exit codes, one-line errors, nothing half written,
// and a factor export that Python could load and that matches the float64 reference.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpt2 as gpt2Family, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { fileSource } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';
import { assertClose } from '../helpers.ts';
import { gpt2BackwardRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';

/** GPT-2's module names, in role order (attn_in, attn_out, ff_in, ff_out). */
const LINEAR_MODULES = Object.values(gpt2Family.modules);

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 4, nEmbd: 48, nPositions: 16, vocabSize: 50257, nInner: 192, eps: 1e-5 };
const work = mkdtempSync(join(tmpdir(), 'bl-cli-'));
let model: { dir: string; params: Gpt2ParamsRef };

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.join('\n') };
}

test.before(async () => {
  model = await writeRandomCheckpoint(CFG, 21);
});
test.after(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(model.dir, { recursive: true, force: true });
});

test('--help lists the commands and exits 0', () => {
  const r = cli(['--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /factors/);
  assert.is(cli(['factors', '--help']).code, 0);
});

test('factors writes every layer\'s x and delta, logits and input_ids, equal to the float64 reference', async () => {
  const out = join(work, 'f.safetensors');
  const [prompt, target] = ['Lionel Messi plays for', ' Paris'];
  const r = cli(['factors', '--model', model.dir, '--prompt', prompt, '--target', target, '--out', out]);
  assert.is(r.code, 0, r.stderr);
  const src = await fileSource(out);
  try {
    const f = await openSafetensors(src);
    const tok = new Gpt2Tokenizer();
    const ids = tok.encode(prompt);
    const ref = gpt2BackwardRef(CFG, model.params, ids, [{ position: ids.length - 1, token: tok.encode(target)[0]! }]);
    assert.equal(Array.from(await f.readI32('input_ids')), ids);
    assertClose(await f.readF32('logits'), ref.logits.slice((ids.length - 1) * CFG.vocabSize), 1e-4, 'logits');
    for (let l = 0; l < CFG.nLayer; l++) {
      for (const m of LINEAR_MODULES) {
        const name = `h.${l}.${m}`;
        assert.equal(f.tensors.get(`${name}.x`)!.shape, [ids.length, ref.factors[name]!.inDim]);
        assertClose(await f.readF32(`${name}.x`), ref.factors[name]!.x, 1e-3, `${name}.x`);
        assertClose(await f.readF32(`${name}.delta`), ref.factors[name]!.delta, 1e-3, `${name}.delta`);
      }
    }
    assert.is(f.tensors.size, CFG.nLayer * 8 + 2);
  } finally {
    await src.close();
  }
});

const badInputs: [string, () => string[], RegExp][] = [
  ['an empty prompt', () => ['--model', model.dir, '--prompt', '', '--target', ' x'], /prompt is empty/],
  ['a prompt longer than the context', () => ['--model', model.dir, '--prompt', 'word '.repeat(40), '--target', ' x'], /context is 16/],
  ['a missing model directory', () => ['--model', join(work, 'nope'), '--prompt', 'a', '--target', ' b'], /no such file or directory/],
  ['a pickle checkpoint', () => { writeFileSync(join(work, 'pytorch_model.bin'), 'x'); return ['--model', join(work, 'pytorch_model.bin'), '--prompt', 'a', '--target', ' b']; }, /safetensors/],
  ['a truncated weights file', () => {
    const dir = join(work, 'broken');
    rmSync(dir, { recursive: true, force: true });
    spawnSync('cp', ['-r', model.dir, dir]);
    spawnSync('truncate', ['-s', '1000', join(dir, 'model.safetensors')]);
    return ['--model', dir, '--prompt', 'a', '--target', ' b'];
  }, /model\.safetensors/],
  ['an unknown option', () => ['--model', model.dir, '--prompt', 'a', '--target', ' b', '--bogus'], /bogus/],
];

for (const [what, args, message] of badInputs) {
  test(`factors with ${what}: one line, exit 2, no output file`, () => {
    const out = join(work, 'bad.safetensors');
    const r = cli(['factors', ...args(), '--out', out]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.error, message);
    assert.is(r.error.split('\n').length, 1, r.error);
    assert.not.ok(existsSync(out), 'a file was written');
  });
}

test('no WebGPU adapter: one line saying what to install, exit 1', () => {
  const bogus = join(work, 'bogus_icd.json');
  writeFileSync(bogus, '{"file_format_version": "1.0.0", "ICD": {"library_path": "/nonexistent/libvk.so", "api_version": "1.0.0"}}');
  const r = cli(['factors', '--model', model.dir, '--prompt', 'a', '--target', ' b', '--out', join(work, 'x.safetensors')], { BACKWARD_LENS_VK_ICD: bogus });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.error, /no WebGPU adapter found: install .*apt-get install chromium/);
});

test.run();
