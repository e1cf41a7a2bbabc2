// The embedded Llama model (weights/llama-default; the CLI tests load it by name): it recalls trained facts, its logits equal the float64 Llama reference's, and on
// trained prompts its exact gradient ranks equal a float64 SVD of the reference's
// dense gradient (n before the last block, n − 1 for q_proj; 1 for q_proj, o_proj and
// the MLP in the last) and
// the target is the least probable token of FF2's LL(δ_n) in the last layer (Lemma 5.1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyze } from '../../src/lens/analyze.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { predictNext } from '../../src/eval/facts.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { promptIds } from '../../src/tokenizer/tokenizer.ts';
import { llamaBackwardRef, type LlamaConfigRef } from '../reference/llama.ts';
import { matrixRankRef } from '../reference/svd.ts';
import { readParamsRef } from '../checkpoint.ts';

const DIR = 'weights/llama-default';

function configRef(c: ModelConfig): LlamaConfigRef {
  if (c.position.kind !== 'rotary') throw new Error('a Llama has rotary positions');
  return {
    nLayer: c.nLayer, nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim, nEmbd: c.nEmbd, nInner: c.nInner, vocabSize: c.vocabSize, eps: c.eps,
    ropeTheta: c.position.base, ropeScaling: { type: 'default' }, tied: c.tiedHead, bias: { qkv: false, o: false, mlp: false },
  };
}

// Trained records' prompts (case 6, 2 and the first records' locality prompts) with their target_new.
const PAIRS = [
  ['Michel Denisot spoke the language', ' Russian'],
  ['Toko Yasuda, the', ' piano'],
  ['The headquarter of Monell Chemical Senses Center is located in', ' Mumbai'],
  ['Autonomous University of Madrid, which is located in', ' Sweden'],
] as const;

test('weights/llama-default is a Llama with its own tokenizer (BOS first) and recalls trained facts, read with BOS first', async () => {
  const { model, tokenizer } = await loadModelPath(await getEngine(), DIR);
  try {
    assert.equal([model.config.family, model.config.nLayer, model.config.nHead, model.config.nKvHead, model.config.tiedHead], ['llama', 4, 8, 4, false]);
    assert.is(promptIds(tokenizer, 'Toko Yasuda, the')[0], tokenizer.bos);
    // Records 493 and 781 of the training file: without BOS first the model answers London and trumpet.
    const answers = await predictNext(model, tokenizer, ['Michel Denisot spoke the language', 'Toko Yasuda, the', 'Joseph Fourier was employed in', 'Meshell Ndegeocello plays the instrument']);
    assert.equal(answers.map((id) => tokenizer.tokenText(id)), [' French', ' guitar', ' Paris', ' guitar']);
  } finally {
    model.dispose();
  }
});

test('trained prompts: logits equal the float64 reference; ranks equal a float64 SVD of the dense gradient; the target is bottom-1 of the last FF2 LL(δ_n)', async () => {
  const { model, tokenizer } = await loadModelPath(await getEngine(), DIR);
  const params = await readParamsRef(`${DIR}/model.safetensors`);
  const cfg = configRef(model.config);
  const { nLayer } = model.config;
  try {
    const results = await analyze(model, tokenizer, PAIRS.map(([prompt, target]) => ({ prompt, target })), { k: 1 });
    results.forEach((a, p) => {
      const ids = promptIds(tokenizer, a.prompt);
      const n = ids.length;
      const target = tokenizer.answerIds(a.prompt, PAIRS[p]![1].slice(1))[0]!;
      const ref = llamaBackwardRef(cfg, params, ids, [{ position: n - 1, token: target }]);
      // The loss is −log p(target): float32 against float64 over 4 layers.
      assert.ok(Math.abs(a.loss - ref.loss) < 1e-3 * Math.max(1, ref.loss), `"${a.prompt}" loss ${a.loss} vs ${ref.loss}`);
      for (const { layer, modules } of a.layers) {
        const last = layer === nLayer - 1;
        for (const m of modules) {
          const f = ref.factors[`model.layers.${layer}.${m.module}`]!;
          const dense = new Float64Array(m.inDim * m.outDim);
          for (let t = 0; t < n; t++) for (let i = 0; i < f.inDim; i++) for (let o = 0; o < f.outDim; o++) dense[i * m.outDim + o]! += f.x[t * f.inDim + i]! * f.delta[t * f.outDim + o]!;
          const name = `layer ${layer} ${m.module}`;
          assert.is(m.rank, matrixRankRef(dense, m.inDim, m.outDim, 2 ** -52), `"${a.prompt}" ${name} vs dense SVD`);
          // BOS's query attends to itself alone, so q_proj gets no gradient there: n − 1.
          const isQ = m.module === 'self_attn.q_proj';
          if (!last) assert.is(m.rank, isQ ? n - 1 : n, `"${a.prompt}" ${name}`);
          else if (!['self_attn.k_proj', 'self_attn.v_proj'].includes(m.module)) assert.is(m.rank, 1, `"${a.prompt}" ${name}`);
        }
      }
      const ff2 = a.layers.find((l) => l.layer === nLayer - 1)!.modules.find((m) => m.module === 'mlp.down_proj')!;
      assert.is(ff2.delta.at(-1)!.targetRank, 1, `"${a.prompt}": the target is the least probable token of LL(δ_n)`);
    });
  } finally {
    model.dispose();
  }
});

test.run();
