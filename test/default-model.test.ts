// The embedded default model: it loads with its reduced vocabulary, recalls a trained
// fact, and its exact gradient ranks equal an independent float64 SVD of the dense
// gradient (its attention is so peaked that some positions get ~1e-12 of the gradient,
// so ranks below n are real; the last layer's MLP and attn.c_proj are rank 1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../src/gpu/engine.ts';
import { analyze } from '../src/lens/analyze.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { fileSource } from '../src/model/node-file.ts';
import { openSafetensors } from '../src/model/safetensors.ts';
import { predictNext } from '../src/eval/facts.ts';
import { gpt2BackwardRef, type Gpt2ParamsRef } from './reference/gpt2.ts';
import { matrixRankRef } from './reference/svd.ts';

const DIR = 'weights/default';

async function referenceParams(): Promise<Gpt2ParamsRef> {
  const src = await fileSource(`${DIR}/model.safetensors`);
  try {
    const f = await openSafetensors(src);
    const params: Gpt2ParamsRef = {};
    for (const name of f.tensors.keys()) params[name] = Float64Array.from(await f.readF32(name));
    return params;
  } finally {
    await src.close();
  }
}

test('the default model recalls a trained fact and its ranks equal a float64 SVD of the dense gradient', async () => {
  const { model, tokenizer } = await loadModelPath(await getEngine(), DIR);
  try {
    const [prompt, target] = ['Michel Denisot spoke the language', ' Russian'];
    const [answer] = await predictNext(model, tokenizer, [prompt]);
    assert.is(tokenizer.tokenText(answer!), ' French');
    const [a] = await analyze(model, tokenizer, [{ prompt, target }], { k: 1 });
    const ids = tokenizer.encode(prompt);
    const ref = gpt2BackwardRef(model.config, await referenceParams(), ids, [{ position: ids.length - 1, token: tokenizer.encode(target)[0]! }]);
    const last = model.config.nLayer - 1;
    for (const { layer, modules } of a!.layers) {
      for (const m of modules) {
        const name = `h.${layer}.${m.module}`;
        assert.is(m.rank, matrixRankRef(ref.grads[`${name}.weight`]!, m.inDim, m.outDim, 2 ** -23), `${name} vs dense SVD`);
        assert.ok(m.rank <= ids.length, name);
        if (layer === last && m.module !== 'attn.c_attn') assert.is(m.rank, 1, name);
      }
    }
  } finally {
    model.dispose();
  }
});

test.run();
