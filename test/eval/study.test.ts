// The study over many prompts: ROME's segments on hand-made prompts, the record
// readers, and `backward-lens study` as a user runs it: its aggregates against
// one-by-one `analyze --json` runs, its files, and bad input refused whole.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StudyAccumulator } from '../../src/study/aggregate.ts';
import type { StudyDocument } from '../../src/study/document.ts';
import { parseRecords, selectRecords } from '../../src/study/records.ts';
import { segmentPrompt, type Segment } from '../../src/pass/segments.ts';
import type { Analysis } from '../../src/lens/types.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { Report } from '../../src/report/json.ts';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';
import { writeRandomCheckpoint } from '../checkpoint.ts';

const gpt2 = new Gpt2Tokenizer();
const segs = (prompt: string, subject: string) => {
  const s = segmentPrompt(gpt2, prompt, gpt2.encode(prompt), subject);
  return s && { labels: s.labels.map((l) => l.join('+') || '-'), repeated: s.repeated };
};
const L = (...l: Segment[]) => l.join('+');

test('segments: a subject of several tokens in the middle of the prompt', () => {
  // The | mother | tongue | of | Danielle | Dar | rie | ux | is
  assert.equal(segs('The mother tongue of Danielle Darrieux is', 'Danielle Darrieux'), {
    labels: [...Array(4).fill(L('before subject')), L('first subject token'), L('middle subject tokens'), L('middle subject tokens'), L('last subject token'), L('first subsequent token', 'last token')],
    repeated: false,
  });
});

test('segments: a subject at the very start, split inside a word', () => {
  // T | oko | Yas | uda | , | the
  assert.equal(segs('Toko Yasuda, the', 'Toko Yasuda')?.labels, [L('first subject token'), L('middle subject tokens'), L('middle subject tokens'), L('last subject token'), L('first subsequent token'), L('last token')]);
});

test('segments: a one-token subject is its first and its last token, as in ROME', () => {
  assert.equal(segs('Paris is the capital of', 'Paris')?.labels, [L('first subject token', 'last subject token'), L('first subsequent token'), L('further tokens'), L('further tokens'), L('last token')]);
});

test('segments: a subject that occurs twice is taken at its last occurrence, and says so', () => {
  // Apple | and | Apple | is | made | by
  assert.equal(segs('Apple and Apple is made by', 'Apple'), {
    labels: [L('before subject'), L('before subject'), L('first subject token', 'last subject token'), L('first subsequent token'), L('further tokens'), L('last token')],
    repeated: true,
  });
});

test('segments: a subject at the end makes the last token a subject token too', () => {
  assert.equal(segs('I met Danielle Darrieux', 'Danielle Darrieux')?.labels, [L('before subject'), L('before subject'), L('first subject token'), L('middle subject tokens'), L('middle subject tokens'), L('last subject token', 'last token')]);
});

test('segments: a subject missing from the prompt gives no segmentation', () => {
  assert.is(segs('Paris is the capital of', 'London'), undefined);
  assert.is(segs('Paris is the capital of', ''), undefined);
});

test('records: CounterFact and known-fact layouts, --records specs', () => {
  const fields = { prompt: 'P', subject: 'S', target_new: 'T', ground_truth: 'G', rephrase_prompt: 'R', locality_prompt: 'L', locality_ground_truth: 'LG' };
  const cf = parseRecords([{ case_id: 7, ...fields }], 'f');
  assert.is(cf.layout, 'counterfact');
  assert.equal(cf.records[0], { index: 0, id: 7, prompt: 'P', subject: 'S', target: 'T', answer: 'G' });
  assert.throws(() => parseRecords([{ case_id: 7, prompt: 'P', subject: 'S', target_new: 'T' }], 'f'), /record 0 \(case_id 7\) has no string field "ground_truth"/);
  const kn = parseRecords([{ known_id: 3, prompt: 'P', subject: 'S', attribute: 'A' }], 'f');
  assert.is(kn.layout, 'knowns');
  assert.equal(kn.records[0], { index: 0, id: 3, prompt: 'P', subject: 'S', target: 'A', answer: 'A' });
  assert.throws(() => parseRecords([{ text: 'x' }], 'f'), /unknown record layout/);
  assert.throws(() => parseRecords({}, 'f'), /non-empty JSON list/);
  const ten = Array.from({ length: 10 }, (_, i) => ({ index: i, id: 100 + i, prompt: 'P', subject: 'S', target: 'T', answer: 'A' }));
  assert.equal(selectRecords(ten, '0-2,5,8-9').map((r) => r.index), [0, 1, 2, 5, 8, 9]);
  assert.equal(selectRecords(ten, 'case:101,109').map((r) => r.index), [1, 9]);
  assert.equal(selectRecords(ten, 'all'), ten);
  assert.throws(() => selectRecords(ten, '8-20'), /index 10 is past the last record \(9\)/);
  assert.throws(() => selectRecords(ten, 'case:101,3'), /no record has id 3/);
  assert.throws(() => selectRecords(ten, '3-1'), /backwards/);
  assert.throws(() => selectRecords(ten, 'x'), /not a number or a range like 3-7/);
});

// 12 heads keep attn.c_attn's gradient at full rank (see analyze.test.ts).
const CFG: Gpt2Sizes = { nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };
// Case 2's target keeps a leading space so that one record gets a tokenization warning.
// The study reads only prompt, subject, target_new and ground_truth; the rest makes them valid CounterFact records.
const PARAPHRASES = { rephrase_prompt: 'R', locality_prompt: 'L', locality_ground_truth: 'G' };
const RECORDS = [
  { case_id: 1, prompt: 'The mother tongue of Danielle Darrieux is', subject: 'Danielle Darrieux', target_new: 'English', ground_truth: 'French', ...PARAPHRASES },
  { case_id: 2, prompt: 'Toko Yasuda, the', subject: 'Toko Yasuda', target_new: ' piano', ground_truth: 'guitar', ...PARAPHRASES },
  { case_id: 3, prompt: 'Paris is the capital of', subject: 'Paris', target_new: 'Italy', ground_truth: 'France', ...PARAPHRASES },
  { case_id: 4, prompt: 'Autonomous University of Madrid, which is located in', subject: 'Mars', target_new: 'Sweden', ground_truth: 'Spain', ...PARAPHRASES },
  { case_id: 5, prompt: 'Apple and Apple is made by', subject: 'Apple', target_new: 'Google', ground_truth: 'Apple', ...PARAPHRASES },
];
const work = mkdtempSync(join(tmpdir(), 'bl-study-'));
const dataFile = join(work, 'records.json');
let modelDir: string;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('backward-lens: ') && !l.includes('loading'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines };
}

test.before(async () => {
  modelDir = (await writeRandomCheckpoint(CFG, 21)).dir;
  writeFileSync(dataFile, JSON.stringify(RECORDS));
});
test.after(() => {
  for (const dir of [work, modelDir]) rmSync(dir, { recursive: true, force: true });
});

test('study: every aggregate equals what one-by-one analyze --json runs give', () => {
  const out = join(work, 'study');
  const r = cli(['study', '--model', modelDir, '--data', dataFile, '--records', 'all', '--batch', '2', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.lines.some((l) => /warning: record 3 \(id 4\) skipped: the subject "Mars" does not occur/.test(l)), r.stderr);
  const doc = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8')) as StudyDocument;
  assert.is(doc.data.studied, 4);
  assert.equal(doc.data.skipped.map((s) => s.index), [3]);
  assert.is(doc.data.repeatedSubject, 1);
  // Record 1's target has a space of its own, so its first token is a bare space: studied, and counted.
  assert.is(doc.data.tokenWarnings, 1);
  assert.ok(r.lines.some((l) => /warning: 1 of 4 studied records read differently from GPT-2 .* record 1: the target "  piano" starts with the token " "/.test(l)), r.stderr);

  // The same records one at a time through `analyze`, folded by the same accumulator.
  const acc = new StudyAccumulator();
  const one: Analysis[] = [];
  for (const rec of RECORDS.filter((x) => x.case_id !== 4)) {
    const json = join(work, `one-${rec.case_id}.json`);
    const a = cli(['analyze', '--model', modelDir, '--prompt', rec.prompt, '--target', ` ${rec.target_new}`, '--k', '1', '--json', json, '--no-color']);
    assert.is(a.code, 0, a.stderr);
    const analysis = (JSON.parse(readFileSync(json, 'utf8')) as Report).results[0]! as Analysis;
    one.push(analysis);
    const seg = segmentPrompt(gpt2, rec.prompt, analysis.tokens.map((t) => t.id), rec.subject)!;
    acc.add(analysis, seg, analysis.original.id === gpt2.encode(` ${rec.ground_truth}`)[0]);
  }
  assertNear(doc.aggregates, acc.result(), 'aggregates');

  // Spot checks written out by hand, independent of the accumulator.
  const n = (a: Analysis) => a.tokens.length;
  const ff2 = (a: Analysis, layer: number) => a.layers[layer]!.modules.find((m) => m.module === 'mlp.c_proj')!;
  const lastNorms = one.map((a) => ff2(a, 0).delta[n(a) - 1]!.norm);
  assertNear(doc.aggregates.deltaNorm['mlp.c_proj']![0]!.segments['last token'].mean, lastNorms.reduce((s, v) => s + v, 0) / lastNorms.length, 'FF2 mean ‖δ_n‖, layer 0');
  const lastLayer = doc.aggregates.rank['mlp.c_proj']![2]!;
  assert.equal([lastLayer.equalN, lastLayer.minusN], [0, Object.fromEntries([...new Set(one.map((a) => 1 - n(a)))].sort((a, b) => a - b).map((d) => [String(d), one.filter((a) => 1 - n(a) === d).length]))]);
  assert.is(doc.aggregates.rank['mlp.c_fc']![0]!.share, 1);
  // The last layer's δ_i for i < n are exactly zero: no target rank for them.
  assert.is(doc.aggregates.targetRank['mlp.c_proj']![2]!.segments['first subject token'].count, 0);
  assert.is(doc.aggregates.targetRank['mlp.c_proj']![2]!.segments['last token'].count, 4);

  const files = readdirSync(out);
  for (const f of ['study.json', 'index.html', 'fig4-rank-equals-n.svg', 'fig6-delta-norm-mlp.c_proj.svg', 'fig7-target-rank-mlp.c_proj.svg', 'fig17-x-norm-mlp.c_fc.svg', 'fig19-original-rank-ff2-last.svg', 'fig20-original-rank-ff1-last.svg', 'fig21-target-rank-ff1-last.svg']) assert.ok(files.includes(f), f);
  for (const f of files.filter((x) => x.endsWith('.svg'))) checkSvg(readFileSync(join(out, f), 'utf8'), f);
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.is((html.match(/<svg /g) ?? []).length, files.filter((x) => x.endsWith('.svg')).length);
  assert.not.match(html, /<script|src=|href=/);

  // --replot redraws from study.json alone and keeps other files.
  writeFileSync(join(out, 'README.md'), 'notes');
  const before = readFileSync(join(out, 'fig4-rank-equals-n.svg'), 'utf8');
  rmSync(join(out, 'fig4-rank-equals-n.svg'));
  const re = cli(['study', '--replot', '--out', out]);
  assert.is(re.code, 0, re.stderr);
  assert.is(readFileSync(join(out, 'fig4-rank-equals-n.svg'), 'utf8'), before);
  assert.ok(existsSync(join(out, 'README.md')));

  // GPT-2's lens leaves no id out; where a tokenizer's does, the rank figures count among the others.
  assert.is(doc.settings.excluded, undefined);
  const V = doc.model.vocabSize;
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), `of ${V} tokens`);
  writeFileSync(join(out, 'study.json'), JSON.stringify({ ...doc, settings: { ...doc.settings, excluded: { count: 40, padded: 37, special: 3 } } }));
  assert.is(cli(['study', '--replot', '--out', out]).code, 0);
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), `of ${V - 40} tokens`);
});

test('study: bad input is one line, exit 2, and nothing written', () => {
  const out = join(work, 'never');
  const cases: [string[], RegExp][] = [
    [['--data', join(work, 'nope.json')], /--data .*nope\.json: cannot read: no such file/],
    [['--data', join(work, 'layout.json')], /unknown record layout/],
    [['--data', dataFile, '--records', '50-60'], /records "50-60" selects none of the 5 records/],
    [['--data', dataFile, '--out', join(work, 'no-such-dir', 'out')], /does not exist/],
    [['--data', dataFile, '--records', '3'], /none of the 1 selected records can be studied/],
  ];
  writeFileSync(join(work, 'layout.json'), JSON.stringify([{ text: 'hello' }]));
  for (const [args, message] of cases) {
    const r = cli(['study', '--model', modelDir, '--out', out, ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.lines.filter((l) => !l.includes('warning')).length, 1, r.stderr);
    assert.match(r.lines.at(-1)!, message);
    assert.not.ok(existsSync(out), `${args.join(' ')} left ${out}`);
  }
  mkdirSync(join(work, 'full'));
  writeFileSync(join(work, 'full', 'x'), '');
  const full = cli(['study', '--model', modelDir, '--data', dataFile, '--out', join(work, 'full')]);
  assert.is(full.code, 2);
  assert.match(full.lines.at(-1)!, /not empty; choose another path or pass --force/);
  assert.ok(readdirSync(work).every((f) => !f.includes('partial')));
});

/** Well-formed enough for an XML parser: every tag closed in order, one root, no external references. */
function checkSvg(svg: string, what: string): void {
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/, what);
  assert.not.match(svg, /href="(?!#)|url\((?!#)|<script/, what);
  const body = svg.replace(/^<\?xml[^>]*\?>/, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    if (m[1]) assert.is(stack.pop(), m[2], `${what}: </${m[2]}>`);
    else if (!m[3]) stack.push(m[2]!);
  }
  assert.equal(stack, [], `${what}: unclosed tags`);
  assert.not.match(body.replace(/<[^>]*>/g, ''), /[<>]|&(?!(amp|lt|gt|quot|#39);)/, `${what}: unescaped text`);
}

/** Deep equality, numbers to float32 accuracy (the batch runs the kernels on other shapes). */
function assertNear(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (!(Math.abs(actual - expected) <= 1e-4 * Math.max(1, Math.abs(expected)))) assert.unreachable(`${path}: ${actual} != ${expected}`);
    return;
  }
  if (expected === null || typeof expected !== 'object') return assert.is(actual, expected, path);
  assert.equal(Object.keys(actual as object).sort(), Object.keys(expected).sort(), path);
  for (const [k, v] of Object.entries(expected)) assertNear((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
}

test.run();
