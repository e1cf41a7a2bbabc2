// rome and memit as the commands take them: method specs in eval (labels, and one
// clear error per bad parameter), and `edit --method rome:...` answering bad input
// with one line and exit 2 before any work.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf } from '../../src/eval/run.ts';
import { BadMethodError, checkLayers, parseMethod } from '../../src/eval/methods.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 2, nEmbd: 8, nPositions: 32, vocabSize: 50257, nInner: 12, eps: 1e-5 };
let modelDir: string;

test.before(async () => {
  modelDir = (await writeRandomCheckpoint(CFG, 41)).dir;
});
test.after(() => rmSync(modelDir, { recursive: true, force: true }));

test('method specs: rome and memit labels and batch', () => {
  assert.equal(parseMethod('rome:layer=2'), { kind: 'rome', label: 'rome:layer=2', layers: [2] });
  assert.equal(parseMethod('memit:layers=0-2'), { kind: 'memit', label: 'memit:layers=0-2', layers: [0, 1, 2], batch: 1 });
  const batched = parseMethod('memit:layers=1+2,batch=10,lambda=15000');
  assert.equal(batched, { kind: 'memit', label: 'memit:layers=1-2,batch=10,lambda=15000', layers: [1, 2], batch: 10, lambda: 15000 });
  assert.is(batchOf(batched), 10);
  assert.is(batchOf(parseMethod('original')), 1);
});

test('method specs: bad rome/memit parameters are one sentence each', () => {
  const bad: [string, RegExp][] = [
    ['rome', /rome needs layer=/],
    ['rome:layer=1-2', /must be one layer/],
    ['rome:layers=1', /unknown parameter "layers"; rome takes layer/],
    ['memit:layers=0-1,batch=0', /batch=0 must be a positive integer/],
    ['memit:layers=0-1,batch=2.5', /batch=2.5 must be a positive integer/],
    ['memit:layers=0-1,lambda=-3', /lambda=-3 must be a positive number/],
    ['memit:layers=0-1,lr=1', /unknown parameter "lr"; memit takes layers, batch, lambda/],
  ];
  for (const [spec, message] of bad) {
    assert.throws(() => parseMethod(spec), (e: Error) => e instanceof BadMethodError && message.test(e.message) && !e.message.includes('\n'), spec);
  }
});

test('eval refuses rome/memit whose value would be written at the last layer, one sentence', () => {
  for (const spec of ['rome:layer=1', 'memit:layers=0-1']) {
    assert.throws(() => checkLayers(parseMethod(spec), CFG.nLayer), (e: Error) => e instanceof BadMethodError && /layer 1, the model's last, .* use layers below 1$/.test(e.message), spec);
  }
  checkLayers(parseMethod('rome:layer=0'), CFG.nLayer);
  checkLayers(parseMethod('sgd:layers=1,lr=1'), CFG.nLayer);
});

function edit(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'edit', '--model', modelDir, '--tokens', '0', ...args], { encoding: 'utf8' });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading'));
  return { code: r.status, lines, stdout: r.stdout };
}

test('edit --method rome/memit: bad input exits 2 with one line, before any work', () => {
  const cases: [string[], RegExp][] = [
    [['--prompt', 'Paris is the capital of', '--target', ' France', '--method', 'rome:layer=1'], /need the subject: pass --subject/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Berlin', '--target', ' France', '--method', 'rome:layer=1'], /subject "Berlin" does not occur in the prompt/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'rome:layer=5'], /layer 5 does not exist/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'rome:layer=1', '--lr', '1'], /--lr does not apply to rome/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'memit:layers=0-1,batch=x'], /batch=x must be a positive integer/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'rome'], /needs its layers on this model: rome:layer=L/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'shift', '--lr', '1', '--layers', '0'], /--subject and --cache go with --method rome/],
    // Layer 1 is this model's last: nothing above it carries the subject to the prompt's end.
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'rome:layer=1'], /written at layer 1, the model's last, cannot change what follows "Paris is the capital of".*pick a layer below 1$/],
    [['--prompt', 'Paris is the capital of', '--subject', 'Paris', '--target', ' France', '--method', 'memit:layers=0-1'], /written at layer 1, the model's last/],
  ];
  for (const [args, message] of cases) {
    const r = edit(...args);
    assert.is(r.code, 2, args.join(' '));
    assert.ok(r.lines.length >= 1 && message.test(r.lines[0]!), `${args.join(' ')}: ${r.lines.join(' | ')}`);
    assert.is(r.lines.filter((l) => !l.includes('run with --help')).length, 1, args.join(' '));
    assert.is(r.stdout, '');
  }
});

test.run();
