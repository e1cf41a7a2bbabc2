// analyze on a Llama checkpoint whose vocab_size is above its tokenizer.json's size
// (padded rows, as Pythia's 50,304 rows for 50,277 tokens): no lens list of the grids
// or of the neuron view holds a padded row or a special token, every rank counts
// only the others, the original answer is none of them, the JSON says how many
// were left out, and a target that is itself special (</s>) is still ranked.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import { PIECE_TOKENS, PIECE_VOCAB } from '../model/piece-tokenizer.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';

/** 37 rows above the tokenizer: with k = 100 of about 350 ids, the unmasked lists would hold some of the 40 ids left out. */
const PADDED = 37;
const CFG: LlamaConfigRef = {
  nLayer: 2, nHead: 4, nKvHead: 2, headDim: 8, nEmbd: 32, nInner: 40, vocabSize: PIECE_TOKENS + PADDED, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const SPECIAL = [PIECE_VOCAB['<unk>']!, PIECE_VOCAB['<s>']!, PIECE_VOCAB['</s>']!];
const excluded = (id: number) => id >= PIECE_TOKENS || SPECIAL.includes(id);
const RANKED = CFG.vocabSize - PADDED - SPECIAL.length;
const work = mkdtempSync(join(tmpdir(), 'bl-lens-excluded-'));
let modelDir: string;

test.before(async () => {
  modelDir = (await writeLlamaCheckpoint(CFG, 11)).dir;
});
test.after(() => {
  for (const dir of [work, modelDir]) rmSync(dir, { recursive: true, force: true });
});

interface TokenProb {
  id: number;
}
interface VectorView {
  top?: TokenProb[];
  bottom?: TokenProb[];
  targetRank?: number;
  originalRank?: number;
}
interface Lens {
  top: TokenProb[];
  bottom: TokenProb[];
}

function analyze(target: string, extra: string[] = []) {
  const json = join(work, 'analyze.json');
  const r = spawnSync(process.execPath, ['dist/cli.js', 'analyze', '--model', modelDir, '--prompt', 'The Eiffel Tower is in', '--target', target, '--k', '100', '--json', json, ...extra], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return { ...JSON.parse(readFileSync(json, 'utf8')), stdout: r.stdout };
}

/** Every lens list of a result holds only ranked ids; ranks count only those, and agree with where the id stands in its list. */
function checkResult(result: { layers: { modules: { x: VectorView[]; delta: VectorView[] }[] }[]; targetTokens: TokenProb[]; original: TokenProb }): void {
  let lists = 0;
  for (const { modules } of result.layers) {
    for (const m of modules) {
      for (const [side, views] of [['x', m.x], ['delta', m.delta]] as const) {
        for (const v of views) {
          if (!v.top) continue;
          lists++;
          for (const { id } of [...v.top, ...v.bottom!]) assert.not.ok(excluded(id), `id ${id} listed`);
          for (const [rank, id] of [[v.targetRank!, result.targetTokens[0]!.id], [v.originalRank!, result.original.id]]) {
            // A special target is ranked among the ranked ids, so it may come after all of them.
            const last = RANKED + (excluded(id) ? 1 : 0);
            assert.ok(rank >= 1 && rank <= last, `rank ${rank} of id ${id}: among ${RANKED} ranked ids`);
            // x ranks from the top, delta from the bottom: a ranked id in that list stands at its rank.
            const at = (side === 'x' ? v.top : v.bottom!).findIndex((t) => t.id === id);
            if (at >= 0) assert.is(rank, at + 1, `id ${id} at ${at} of its list`);
          }
        }
      }
    }
  }
  assert.ok(lists > 0);
  assert.not.ok(excluded(result.original.id), 'the original answer is a ranked id');
}

test('analyze --json --neurons: no list holds a padded row or a special token, ranks among the rest; the JSON, the terminal and the HTML say so', () => {
  const html = join(work, 'analyze.html');
  const report = analyze(' Rome', ['--neurons', '1.ff2', '--html', html]);
  const result = report.results[0];
  checkResult(result);
  const view = report.neurons[0];
  const lenses: Lens[] = [view.zero, ...view.spanning, ...view.groups.flatMap((g: { neurons: Lens[] }) => g.neurons)];
  for (const lens of lenses) for (const { id } of [...lens.top, ...lens.bottom]) assert.not.ok(excluded(id), `neuron view: id ${id} listed`);
  assert.equal(result.settings.excluded, { count: PADDED + SPECIAL.length, padded: PADDED, special: SPECIAL.length });
  assert.equal(view.settings.excluded, result.settings.excluded);
  assert.match(readFileSync(html, 'utf8'), `from the bottom (of ${RANKED} ranked ids)`);
  assert.match(report.stdout, `no special token and no vocabulary row the tokenizer lacks: ${PADDED + SPECIAL.length} left out (${SPECIAL.length} special, ${PADDED} rows without a token)`);
});

test('a target that is itself special (</s>) is ranked among the ranked ids, and listed nowhere', () => {
  const result = analyze('</s>').results[0];
  assert.is(result.targetTokens[0].id, PIECE_VOCAB['</s>']);
  checkResult(result);
});

test.run();
