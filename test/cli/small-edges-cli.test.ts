// The CLI's smaller edges (issue 22, items 12-25): escapes, caches, messages, the
// adapter's known warnings, defaults and the files a run writes. Every case runs the
// embedded default model, so each stays a few seconds.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyze, BadInputError, edit, loadModel } from '../../src/index.ts';
import { rankOfProduct } from '../../src/autograd/linalg.ts';
import { editDefaults } from '../../src/edit/defaults.ts';
import type { Analysis } from '../../src/lens/types.ts';
import { renderHtml } from '../../src/report/html.ts';
import { jsonChunks, renderJson, report, type Report } from '../../src/report/json.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { fakeAnalysis } from '../report/fake-analysis.ts';
import { locatedDefaults } from '../../src/edit/located/rome-hparams.ts';
import { parseMethod, type MethodDefaults } from '../../src/eval/methods.ts';
import { segmentPrompt } from '../../src/pass/segments.ts';
import type { Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { gpt2Config } from '../../src/model/families/gpt2.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-small-edges-'));
const PROMPT = 'Michel Denisot spoke the language';

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading') && !l.includes('warning:'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.join('\n') };
}

test.after(() => rmSync(work, { recursive: true, force: true }));

// Item 13.
test('analyze echoes a prompt and target holding terminal escapes as \\xNN, as the cells are', () => {
  const r = cli(['analyze', '--prompt', 'Michel Denisot\x1b]0;pwned\x07 spoke the language', '--target', ' Russian\x1b[2J', '--layers', '3', '--no-color']);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(r.stdout.includes('\x1b') || r.stdout.includes('\x07'), 'no raw control character reaches stdout');
  assert.ok(r.stdout.includes('"Michel Denisot\\x1B]0;pwned\\x07 spoke the language" → " Russian\\x1B[2J"'), r.stdout.split('\n')[0]);
});

// Item 16.
test('Dawn\'s known limit notices are dropped unless --debug; every other line on stderr stays', () => {
  const args = ['analyze', '--prompt', PROMPT, '--target', ' Russian', '--layers', '3', '--no-color'];
  // The Vulkan loader's own log goes to the same descriptor while the adapter is requested.
  const env = { VK_LOADER_DEBUG: 'warn,error,info' };
  const known = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced/;
  const lines = (stderr: string) => stderr.split('\n').map((l) => l.replace(/ in [\d.]+ s$/, ''));
  // A shell pipe, as a user's `| less` is: a Node child's stderr is a socket, which the filter leaves alone.
  const stderrThroughPipe = (extra: string[]) => {
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$0" dist/cli.js "$@" 2>&1 >/dev/null | cat', process.execPath, ...args, ...extra], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.is(r.status, 0, r.stdout + r.stderr);
    return lines(r.stdout);
  };
  const quiet = stderrThroughPipe([]);
  const debug = stderrThroughPipe(['--debug']);
  assert.not.ok(quiet.some((l) => known.test(l)), quiet.join('\n'));
  assert.equal(quiet, debug.filter((l) => !known.test(l)));
});

// Item 15.
test('sweep --methods shift,shift is refused before any work', () => {
  const r = cli(['sweep', '--methods', 'shift,shift', '--out', join(work, 'sweep-twice')]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /--methods: shift is given twice$/);
  assert.not.ok(existsSync(join(work, 'sweep-twice')));
});

test('--layers -1 keeps Node\'s hint on the one line: write --layers=-1', () => {
  const r = cli(['analyze', '--prompt', PROMPT, '--target', ' Russian', '--layers', '-1']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /argument is ambiguous\. .*'--layers=-XYZ'/);
  assert.is(r.error.split('\n').length, 1, r.error);
});

test('train --embd 100000 is refused with the reason, and no directory is left', () => {
  const out = join(work, 'huge');
  const r = cli(['train', '--embd', '100000', '--out', out]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /h\.0\.mlp\.c_fc\.weight \[100000, 400000\] has 40000000000 elements, more than one array can hold .*choose a smaller --embd$/);
  assert.not.ok(existsSync(out), 'no empty directory');
  const many = cli(['train', '--embd', '4096', '--layers', '200', '--out', out]);
  assert.is(many.code, 2, many.stderr);
  assert.match(many.error, /40298700800 parameters need at least 645 GB to train/);
  assert.not.ok(existsSync(out), 'no empty directory');
});

test('facts: --records beyond the training split is refused; --writes on a model without training metadata says what it assumed, and an empty column reads "no records"', async () => {
  const big = cli(['facts', '--records', '20000']);
  assert.is(big.code, 2, big.stderr);
  assert.match(big.error, /--records 20000: counterfact-train\.json has 10000 records; choose at most 10000$/);
  const cfg: Gpt2Sizes = { nLayer: 2, nHead: 2, nEmbd: 16, nPositions: 32, vocabSize: 50257, nInner: 64, eps: 1e-5 };
  const { dir } = await writeRandomCheckpoint(cfg, 4);
  try {
    const r = cli(['facts', '--model', dir, '--records', '1', '--writes']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the model's metadata does not say which records it trained on .*the first 1, as --records/);
    assert.not.match(r.stdout, /0 \/ 0 /);
    assert.match(r.stdout, /\| no records \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a prompt beyond the context: "the prompt takes N tokens"', () => {
  const r = cli(['analyze', '--prompt', 'one two three four five six seven eight nine ten '.repeat(8), '--target', ' Russian']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.error, /the prompt takes \d+ tokens but the model's context is 64/);
});

// Item 14.
const corpus = (name: string, word: string, rows = 140) => {
  const file = join(work, name);
  const row = ` The tower is 324 metres tall , about the same height as an 81 @-@ storey ${word} .`;
  writeFileSync(file, Array.from({ length: rows }, (_, i) => `${row} ${i}`).join('\n'));
  return file;
};

test('stats cache: a --tokens count windows round down is reused, another --data file is not; --data and --tokens 1 messages', () => {
  const a = corpus('a.raw', 'building');
  const b = corpus('b.raw', 'house');
  const cache = join(work, 'stats-cache');
  const stats = (data: string, ...extra: string[]) => cli(['stats', '--layers', '1', '--data', data, '--cache', cache, ...extra]);
  const first = stats(a, '--tokens', '100');
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /layer 1: .* \(64 tokens, collected\)/);
  for (const tokens of ['100', '64']) {
    const again = stats(a, '--tokens', tokens);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, /\(64 tokens, reused\)/, `--tokens ${tokens}: 64 tokens either way`);
  }
  const other = stats(b, '--tokens', '100');
  assert.is(other.code, 0, other.stderr);
  assert.match(other.stdout, /\(64 tokens, collected\)/, 'another file is another corpus');
  const missing = stats('/nope');
  assert.is(missing.code, 2, missing.stderr);
  assert.match(missing.error, /cannot read \/nope: pass --data FILE/);
  assert.not.match(missing.stderr, /--wikitext/);
  const one = stats(a, '--tokens', '1');
  assert.is(one.code, 2, one.stderr);
  assert.match(one.error, /--tokens 1: the statistics are collected in windows of 64 tokens; give at least 64$/);
});

// Item 20.
test('statistics over the whole corpus: said before it starts, with the --tokens alternative, an estimate once the first sums are read back, and progress', () => {
  // More than the 16,384 tokens after which the sums are first read back, where the estimate is made.
  const r = cli(['stats', '--layers', '1', '--data', corpus('long.raw', 'building', 1000), '--cache', join(work, 'stats-long')]);
  assert.is(r.code, 0, r.stderr);
  const said = r.stderr.indexOf('no statistics for layer 1 in ');
  assert.ok(said >= 0, r.stderr);
  assert.match(r.stderr, /collecting them once over the whole corpus: the slow part of a first rome or memit run; `backward-lens stats --layers 1 --tokens 20480` collects a smaller sample instead/);
  const estimate = r.stderr.search(/about \d+ (s|min) to go at \d+ tokens\/s\n/);
  assert.ok(estimate > said, r.stderr);
  assert.match(r.stderr, /\n(\d+)\/\1 tokens \(\d+ tokens\/s\) \| ETA/);
});

// Item 17.
test('edit --help names every method, rome and memit included', () => {
  const r = cli(['edit', '--help']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /--method NAME +shift, sgd, adam, rome:layer=L \(or rome\) or memit:layers=A-B/);
});

test('--target " " warns that its first token is bare whitespace, as the README says', () => {
  const r = cli(['analyze', '--prompt', PROMPT, '--target', ' ', '--layers', '3', '--no-color']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: the target " " starts with the token " ", bare whitespace/);
});

test('the library refuses a prompt or target that is not a string with the project\'s error, not a TypeError', async () => {
  const { model, tokenizer } = await loadModel('weights/default');
  try {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => analyze(model, tokenizer, [{ prompt: null as unknown as string, target: ' Paris' }]), /the prompt must be a string, got null/],
      [() => analyze(model, tokenizer, [{ prompt: PROMPT, target: 7 as unknown as string }]), /the target must be a string, got number/],
      [() => edit(model, tokenizer, [{ prompt: undefined as unknown as string, target: ' Paris' }], { method: 'shift', layers: [1], lr: 1 }), /the prompt must be a string, got undefined/],
    ];
    for (const [run, message] of cases) {
      const e = await run().then(() => undefined, (err: unknown) => err);
      assert.instance(e, BadInputError);
      assert.match((e as Error).message, message);
    }
  } finally {
    model.dispose();
  }
});

// Item 19.
test('method specs without parameters take the model\'s documented defaults, as edit does; others still need them', () => {
  const cfg = gpt2Config({ nLayer: 4, nHead: 8, nEmbd: 128, nPositions: 64, vocabSize: 5484, nInner: 512, eps: 1e-5 });
  const embedded: MethodDefaults = { edit: editDefaults(cfg, true), located: locatedDefaults(cfg, true) };
  const cases: [string, string, string[]][] = [
    ['shift', 'shift:layers=2,lr=0.5,steps=20', ['layers', 'lr', 'steps']],
    ['shift:lr=1', 'shift:layers=2,lr=1', ['layers']],
    ['sgd:layers=1', 'sgd:layers=1,lr=1', ['lr']],
    ['adam', 'adam:layers=2', ['layers']],
    ['rome', 'rome:layer=0', ['layer']],
    ['memit:batch=2', 'memit:layers=0-1,batch=2', ['layers']],
  ];
  for (const [spec, label, params] of cases) {
    const m = parseMethod(spec, embedded);
    assert.is(m.label, label, spec);
    assert.equal('defaulted' in m ? m.defaulted?.params : undefined, params, spec);
  }
  const full = parseMethod('shift:layers=3,lr=2', embedded);
  assert.not.ok('defaulted' in full && full.defaulted, 'nothing filled in a full spec');
  const xl = { ...cfg, nLayer: 48, nEmbd: 1600, vocabSize: 50257 };
  const xlDefaults: MethodDefaults = { edit: editDefaults(xl, false), located: locatedDefaults(xl, false) };
  assert.is(parseMethod('shift', xlDefaults).label, 'shift:layers=35,lr=0.24');
  assert.is(parseMethod('rome', xlDefaults).label, 'rome:layer=17');
  assert.throws(() => parseMethod('sgd', xlDefaults), /sgd needs lr=\.\.\./);
  assert.throws(() => parseMethod('shift', {}), /shift needs layers=\.\.\..*documented defaults exist for the embedded model and gpt2-xl/);
});

test('eval --method shift on the embedded model runs with its defaults and says so in run.json', () => {
  const out = join(work, 'eval-shift');
  const r = cli(['eval', '--method', 'shift', '--records', '0', '--no-generation', '--no-perplexity', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { methods: string[]; defaults?: Record<string, { params: string[]; source: string }> };
  assert.equal(run.methods, ['shift:layers=2,lr=0.5,steps=20']);
  assert.equal(run.defaults?.['shift:layers=2,lr=0.5,steps=20']?.params, ['layers', 'lr', 'steps']);
  assert.match(run.defaults!['shift:layers=2,lr=0.5,steps=20']!.source, /the default model's sweep/);
  const line = JSON.parse(readFileSync(join(out, 'records.jsonl'), 'utf8').trim()) as { method: string };
  assert.is(line.method, 'shift:layers=2,lr=0.5,steps=20');
});

// Item 21.
test('gradient rank: the decision\'s margin, and a singular value within 1e-9..1e-7 of the largest flagged as ambiguous', () => {
  // x_i = e_i; delta_i = s_i e_i: X^T Delta = diag(s), singular values s.
  const diag = (s: number[]) => {
    const n = s.length;
    const x = new Float32Array(n * n);
    const delta = new Float32Array(n * n);
    s.forEach((v, i) => { x[i * n + i] = 1; delta[i * n + i] = v; });
    return rankOfProduct(x, delta, n, n, n);
  };
  const clean = diag([1, 0.5, 0.25]);
  assert.is(clean.rank, 3);
  assert.is(clean.margin, null, 'nothing dropped');
  assert.is(clean.ambiguous, false);
  const near = diag([1, 0.5, 3e-8]);
  assert.is(near.ambiguous, true, 'σ₃/σ₁ = 3e-8');
  assert.is(diag([1, 0.5, 1e-10]).ambiguous, false, 'far below the band');
  // delta_i all along one direction: rank 1, decided on Delta with a wide gap.
  const n = 3;
  const x = new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
  const delta = new Float32Array(n * n).map((_, i) => [1, -2, 0.5][i % n]! * (1 + Math.floor(i / n)));
  const one = rankOfProduct(x, delta, n, n, n);
  assert.is(one.rank, 1);
  assert.ok(one.margin! > 1e6, `margin ${one.margin}`);
  assert.is(one.ambiguous, false);
});

test('gradient rank: the JSON carries rankMargin and rankAmbiguous per module; the reports mark an ambiguous rank with ? and a note', () => {
  const json = join(work, 'ranks.json');
  const r = cli(['analyze', '--prompt', PROMPT, '--target', ' Russian', '--layers', '1', '--json', json]);
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as Report;
  for (const m of doc.results[0]!.layers[0]!.modules) {
    assert.type(m.rankAmbiguous, 'boolean');
    assert.ok(m.rankMargin === null || m.rankMargin >= 1, `${m.module}: margin ${m.rankMargin}`);
  }
  const a = fakeAnalysis({ layers: [0] });
  const flagged: Analysis = { ...a, layers: [{ layer: 0, modules: a.layers[0]!.modules.map((m, j) => ({ ...m, rankAmbiguous: j === 0 })) }] };
  const text = renderTerminal(flagged, { color: 'none' });
  assert.match(text, new RegExp(`\\b${a.tokens.length}\\?`));
  assert.match(text, /\?: a singular value of XᵀΔ lies within 1e-9\.\.1e-7 of the largest/);
  assert.not.match(renderTerminal(a, { color: 'none' }), /\?: a singular value/);
  const html = renderHtml(report(doc.model, [flagged]));
  assert.match(html, new RegExp(`<td>${a.tokens.length}\\?</td>`));
});

// Item 23.
test('study and sweep name their data file relative to the output, not by an absolute path', () => {
  const data = resolve('../shared/data/counterfact/counterfact-train.json');
  const study = join(work, 'study');
  const s = cli(['study', '--records', '0-1', '--modules', 'mlp.c_proj', '--data', data, '--out', study]);
  assert.is(s.code, 0, s.stderr);
  const want = relative(study, data);
  assert.is((JSON.parse(readFileSync(join(study, 'study.json'), 'utf8')) as { data: { file: string } }).data.file, want);
  // The relative path from a temporary directory ends with the absolute one: take it out first.
  const page = readFileSync(join(study, 'index.html'), 'utf8');
  assert.ok(page.includes(want));
  assert.not.ok(page.replaceAll(want, '').includes(data), 'no absolute path in the page');
  const sweep = join(work, 'sweep');
  const w = cli(['sweep', '--records', '0', '--methods', 'shift', '--layers', '3', '--no-perplexity', '--data', data, '--out', sweep]);
  assert.is(w.code, 0, w.stderr);
  assert.is((JSON.parse(readFileSync(join(sweep, 'sweep.json'), 'utf8')) as { data: string }).data, relative(sweep, data));
  // The command block repeats the command as typed; the sentence above it names the file.
  const records = readFileSync(join(sweep, 'sweep.md'), 'utf8').split('\n').find((l) => l.startsWith('Records '))!;
  assert.ok(records.startsWith(`Records 0 of ${relative(sweep, data)};`), records);
});

test('the committed study and sweep outputs hold no absolute paths', () => {
  for (const f of ['docs/study/index.html', 'docs/study/study.json', 'docs/sweep-default.json', 'docs/sweep-default.md']) {
    assert.not.match(readFileSync(f, 'utf8'), /(^|[\s"'(,])\/(work|tmp|home|root|Users)\//m, f);
  }
});

// Item 25.
test('factors refuses logits that overflow float32 as analyze does, and writes nothing', async () => {
  const cfg: Gpt2Sizes = { nLayer: 2, nHead: 2, nEmbd: 16, nPositions: 32, vocabSize: 50257, nInner: 64, eps: 1e-5 };
  const { dir } = await writeRandomCheckpoint(cfg, 5, { edit: (p) => { p['ln_f.bias']!.fill(3e38); p['wte.weight']!.fill(1, 0, cfg.nEmbd); } });
  const out = join(work, 'overflow.safetensors');
  try {
    const r = cli(['factors', '--model', dir, '--prompt', 'Lionel Messi plays for', '--target', ' Paris', '--out', out]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.error, /the model's logits for "Lionel Messi plays for" hold Infinity .*overflowed float32/);
    assert.is(r.error.split('\n').length, 1, r.error);
    assert.not.ok(existsSync(out), 'nothing written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Item 24.
test('study segments: a lone space token before a subject spelled in bytes is "before subject", as docs/cli/study.md states', async () => {
  const { model, tokenizer } = await loadModel('weights/default');
  model.dispose();
  const prompt = 'The capital of Żółw is';
  const ids = tokenizer.encode(prompt);
  const texts = ids.map((id) => tokenizer.tokenText(id));
  const space = texts.indexOf(' ');
  assert.ok(space > 0 && texts[space + 1] === '\\xC5', `the subject is spelled in bytes after a lone space: ${JSON.stringify(texts)}`);
  const seg = segmentPrompt(tokenizer, prompt, ids, 'Żółw')!;
  assert.equal(seg.labels[space], ['before subject']);
  assert.equal(seg.labels[space + 1], ['first subject token']);
  assert.match(readFileSync('docs/cli/study.md', 'utf8').replace(/\s+/g, ' '), /a token belongs to the subject when any of its bytes lie inside the subject's text .* the lone space token in front of it holds no subject byte and is labelled "before subject"/);
});

// Item 12.
test('analyze --pairs: a file larger than one pass runs in passes, with progress, and one summary warning line', () => {
  const file = join(work, 'many.jsonl');
  const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt: i % 2 ? PROMPT : 'Toko Yasuda, the', target: 'Russian' }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const json = join(work, 'many.json');
  const r = cli(['analyze', '--pairs', file, '--layers', '3', '--modules', 'mlp.c_proj', '--no-color', '--json', json]);
  assert.is(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('warning:'));
  assert.is(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /warning: 40 of 40 pairs are not analysed as written .*; the first, .*many\.jsonl line 1: the target "Russian" has GPT-2 tokens/);
  assert.match(r.stderr, /\n40\/40 pairs \| ETA/);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as Report;
  assert.is(doc.results.length, 40);
  assert.equal(doc.results.map((a) => a.prompt), lines.map((l) => (JSON.parse(l) as { prompt: string }).prompt), 'in file order across passes');
  assert.ok(doc.results.every((a) => a.warnings.length > 0));
});

test('the JSON report in pieces is JSON.stringify(report, null, 1) to the byte, with and without neurons', () => {
  const model = { source: 'test', nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };
  const results = [fakeAnalysis(), fakeAnalysis({ seed: 3, modules: ['ff_in'] })];
  const neuron = { layer: 1, module: 'mlp.c_proj', pair: 0 } as unknown as NonNullable<Report['neurons']>[number];
  for (const doc of [report(model, results), report(model, []), report(model, results, [neuron, neuron])]) {
    const whole = `${JSON.stringify(doc, null, 1)}\n`;
    if (doc.results.length) assert.ok([...jsonChunks(doc)].length > 1);
    assert.is([...jsonChunks(doc)].join(''), whole);
    assert.is(renderJson(doc), whole);
  }
});

test.run();
