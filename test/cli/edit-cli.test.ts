// `backward-lens edit` as a user runs it: before/after on the default model, the JSON,
// an edited model written with --out that loads back with the source's tensor names
// and the in-memory edit's next-token distribution, and bad input answered with one
// line, exit 2 and nothing written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { edit } from '../../src/edit/edit.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { predictNext } from '../../src/model/next-token.ts';
import { fileSource } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import { saveModelDir } from '../../src/model/save-node.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';

const CFG: Gpt2Sizes = { nLayer: 3, nHead: 4, nEmbd: 32, nPositions: 16, vocabSize: 50257, nInner: 72, eps: 1e-5 };
const PROMPT = 'Michel Denisot spoke the language';
const TARGET = ' Russian';
const work = mkdtempSync(join(tmpdir(), 'bl-edit-'));
let modelDir: string;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'edit', ...args], { encoding: 'utf8' });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading') && !l.includes('wrote'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.join('\n') };
}
const out = (name: string) => join(work, name);

test.before(async () => {
  // The "transformer." prefix and the mask buffers are names a re-saved model must keep.
  modelDir = (await writeRandomCheckpoint(CFG, 31, { prefix: true, maskBuffers: true })).dir;
});
test.after(() => {
  for (const dir of [work, modelDir]) rmSync(dir, { recursive: true, force: true });
});

async function storedNames(path: string): Promise<string[]> {
  const src = await fileSource(path);
  try {
    return [...(await openSafetensors(src)).tensors.keys()].sort();
  } finally {
    await src.close();
  }
}

async function distribution(loaded: LoadedModel, prompt: string): Promise<number[]> {
  const V = loaded.model.config.vocabSize;
  const [p] = await predictNext(loaded.model, loaded.tokenizer, [loaded.tokenizer.encode(prompt)], V);
  const probs = new Array<number>(V).fill(0);
  for (const t of p!.top) probs[t.id] = t.prob;
  return probs;
}

test('the default model: shift at the documented layer and eta makes the target top-1; JSON holds every number', () => {
  const r = cli(['--prompt', PROMPT, '--target', TARGET, '--method', 'shift', '--json', out('shift.json'), '--tokens', '5']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /defaults from the default model's sweep/);
  assert.match(r.stdout, /before {2}" French"/);
  assert.match(r.stdout, /after {3}" Russian"/);
  assert.match(r.stdout, /h\.\d\.mlp\.c_proj\.weight/);
  const doc = JSON.parse(readFileSync(out('shift.json'), 'utf8'));
  assert.is(doc.spec.method, 'shift');
  assert.is(doc.pairs[0].after.target.rank, 1);
  assert.ok(doc.pairs[0].before.target.rank > 1);
  assert.is(doc.pairs[0].before.top.length, 5);
  assert.is(typeof doc.pairs[0].after.continuation, 'string');
  assert.ok(doc.changes[0].norm > 0);
});

test('--out: the edited model loads back with the source tensor names and the in-memory distribution (<= 1e-5)', async () => {
  const args = ['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--layers', '0,2', '--lr', '0.5', '--tokens', '0'];
  for (const [method, extra] of [['shift', []], ['sgd', ['--modules', 'mlp.c_proj,attn.c_attn']], ['adam', ['--steps', '3']]] as const) {
    const dir = out(`edited-${method}`);
    const r = cli([...args, '--method', method, ...extra, '--out', dir]);
    assert.is(r.code, 0, r.stderr);
    assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
    assert.equal(await storedNames(join(dir, 'model.safetensors')), await storedNames(join(modelDir, 'model.safetensors')), `${method}: tensor names`);
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')));

    const k = await getEngine();
    const saved = await loadModelPath(k, dir);
    const memory = await loadModelPath(k, modelDir);
    try {
      const spec = { method, layers: [0, 2], lr: method === 'adam' ? 0.5 : 0.5, ...(method === 'sgd' ? { modules: ['ff_out', 'attn_in'] as const } : {}), ...(method === 'adam' ? { steps: 3 } : {}) };
      await edit(memory.model, memory.tokenizer, [{ prompt: PROMPT, target: TARGET }], { ...spec, modules: spec.modules ? [...spec.modules] : undefined });
      for (const prompt of [PROMPT, 'The Eiffel Tower is in']) {
        const [a, b] = [await distribution(saved, prompt), await distribution(memory, prompt)];
        const worst = Math.max(...a.map((p, i) => Math.abs(p - b[i]!)));
        assert.ok(worst <= 1e-5, `${method}: next-token probabilities differ by ${worst}`);
      }
    } finally {
      saved.model.dispose();
      memory.model.dispose();
    }
  }
});

test('--out of an F16 model: unedited tensors stay F16 bit for bit, edited matrices F32, or F16 with --dtype source and the rounding reported', async () => {
  const half = (await writeRandomCheckpoint(CFG, 32, { dtype: 'F16' })).dir;
  const read = async (path: string) => {
    const src = await fileSource(join(path, 'model.safetensors'));
    try {
      const f = await openSafetensors(src);
      return new Map(await Promise.all([...f.tensors.values()].map(async (t) => [t.name, { dtype: t.dtype, bytes: await f.read(t.name) }] as const)));
    } finally {
      await src.close();
    }
  };
  try {
    const args = ['--model', half, '--prompt', PROMPT, '--target', TARGET, '--method', 'shift', '--layers', '1', '--lr', '0.5', '--tokens', '0'];
    const source = await read(half);
    for (const dtype of [undefined, 'source'] as const) {
      const dir = out(`edited-f16-${dtype ?? 'default'}`);
      const r = cli([...args, '--out', dir, ...(dtype ? ['--dtype', dtype] : [])]);
      assert.is(r.code, 0, r.stderr);
      const saved = await read(dir);
      for (const [name, t] of source) {
        const s = saved.get(name)!;
        if (name === 'h.1.mlp.c_proj.weight') {
          assert.is(s.dtype, dtype ? 'F16' : 'F32', `${name} dtype`);
          continue;
        }
        assert.is(s.dtype, 'F16', `${name} dtype`);
        assert.ok(Buffer.from(s.bytes).equals(Buffer.from(t.bytes)), `${name}: bit for bit`);
      }
      if (dtype) assert.match(r.stderr, /h\.1\.mlp\.c_proj\.weight written in F16: the rounding changed its edit by \d+\.\d\d %/);
      else assert.not.match(r.stderr, /rounding/);
    }
  } finally {
    rmSync(half, { recursive: true, force: true });
  }
});

test('--out into an existing directory: refused unless empty or --force', () => {
  const dir = out('full');
  mkdirSync(dir);
  writeFileSync(join(dir, 'keep.txt'), 'mine');
  const args = ['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--method', 'shift', '--layers', '1', '--lr', '1', '--tokens', '0'];
  const refused = cli([...args, '--out', dir]);
  assert.is(refused.code, 2);
  assert.match(refused.error, /--out .*full: exists and is not empty; choose another path or pass --force/);
  assert.equal(readdirSync(dir), ['keep.txt']);
  const empty = out('empty');
  mkdirSync(empty);
  assert.is(cli([...args, '--out', empty]).code, 0);
  assert.ok(existsSync(join(empty, 'model.safetensors')));
  assert.is(cli([...args, '--out', dir, '--force']).code, 0);
  assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  assert.equal(readdirSync(work).filter((f) => f.includes('.partial-')), []);
});

test('a failure while writing leaves no model directory and no temporary files', async () => {
  const k = await getEngine();
  const loaded = await loadModelPath(k, modelDir);
  const dir = out('never');
  try {
    // Metadata values must be strings: the safetensors writer refuses this after the temporary directory exists.
    await saveModelDir(loaded.model, modelDir, dir, { metadata: { bad: 1 as unknown as string } });
    assert.unreachable('the write should fail');
  } catch (e) {
    assert.match((e as Error).message, /metadata/);
  } finally {
    loaded.model.dispose();
  }
  assert.not.ok(existsSync(dir));
  assert.equal(readdirSync(work).filter((f) => f.includes('never')), []);
});

test('a target the vocabulary spells in bytes: a warning, and --strict refuses before any edit', () => {
  const json = out('strict.json');
  const warned = cli(['--prompt', PROMPT, '--target', 'Russian', '--method', 'shift', '--tokens', '0']);
  assert.is(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /backward-lens: warning: .*Russian/);
  const refused = cli(['--prompt', PROMPT, '--target', 'Russian', '--method', 'shift', '--strict', '--json', json]);
  assert.is(refused.code, 2);
  assert.match(refused.error, /\(--strict\)$/);
  assert.not.ok(existsSync(json));
});

test('bad input: one line, exit 2, nothing written', () => {
  const json = out('bad.json');
  const base = ['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--json', json, '--tokens', '0'];
  const cases: [string[], RegExp][] = [
    [['--method', 'mend', '--layers', '1', '--lr', '1'], /--method must be one of shift, sgd, adam, rome:layer=L, memit:layers=A-B, got "mend"/],
    [['--layers', '1', '--lr', '1'], /--method is required/],
    [['--method', 'shift', '--layers', '3', '--lr', '1'], /layer 3 does not exist: this model has layers 0-2/],
    [['--method', 'shift', '--layers', 'x', '--lr', '1'], /--layers "x"/],
    [['--method', 'shift', '--layers', '1', '--lr', '0'], /--lr 0: eta must be > 0/],
    [['--method', 'shift', '--layers', '1', '--lr=-2'], /--lr -2: eta must be > 0/],
    [['--method', 'shift', '--layers', '1', '--lr', 'abc'], /--lr "abc" is not a number/],
    [['--method', 'sgd', '--layers', '1', '--lr', '1', '--steps', '0'], /--steps "0": give a whole number >= 1/],
    [['--method', 'shift', '--layers', '1', '--lr', '1', '--modules', 'attn.c_attn'], /shift edits mlp.c_proj \(FF2\) only/],
    [['--method', 'adam', '--layers', '1', '--modules', 'mlp.c_fc'], /adam edits mlp.c_proj \(FF2\) only/],
    [['--method', 'sgd', '--layers', '1', '--lr', '1', '--modules', 'ln_1'], /unknown module "ln_1"/],
    [['--method', 'shift', '--lr', '1'], /--layers is required for this model/],
    [['--method', 'shift', '--layers', '1'], /--lr is required for shift on this model/],
    [['--method', 'shift', '--layers', '1', '--lr', '1', '--out', '/proc/edited'], /--out \/proc\/edited: a system path/],
    [['--method', 'shift', '--layers', '1', '--lr', '1', '--out', out('no/such/dir')], /does not exist; create it/],
    [['--method', 'shift', '--layers', '1', '--lr', '1', '--dtype', 'source'], /--dtype says how --out writes edited matrices: give --out DIR too/],
    [['--method', 'shift', '--layers', '1', '--lr', '1', '--dtype', 'f8', '--out', out('bad-dtype')], /--dtype/],
  ];
  for (const [args, message] of cases) {
    const r = cli([...base, ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.error, message);
    assert.is(r.error.split('\n').length, 1, r.error);
    assert.not.ok(existsSync(json), `${args.join(' ')} wrote the JSON`);
  }
  const unwritable = cli(['--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--method', 'shift', '--layers', '1', '--lr', '1', '--json', '/proc/x.json']);
  assert.is(unwritable.code, 2);
});

test.run();
