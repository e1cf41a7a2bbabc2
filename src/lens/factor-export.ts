// The factor export (issue: GPT-2 on the engine): every linear layer's X and Delta,
// the logits at the last prompt position and the input ids, named so Python can
// load them with safetensors.torch.load_file.
import type { Tape } from '../autograd/tape.ts';
import { readAll } from '../gpu/buffers.ts';
import { LINEAR_MODULES } from '../model/config.ts';
import type { Gpt2 } from '../model/gpt2.ts';
import type { TensorToWrite } from '../model/safetensors.ts';
import type { Tensor } from '../tensor.ts';
import type { PreparedPair } from './prepare.ts';

/** Reads the tape's factors after backward() and lays them out as safetensors entries. */
export async function factorTensors(model: Gpt2, tape: Tape, pair: PreparedPair, firstLogits: Tensor): Promise<TensorToWrite[]> {
  const names: string[] = [];
  const tensors: Tensor[] = [];
  for (let l = 0; l < model.config.nLayer; l++) {
    for (const m of LINEAR_MODULES) {
      const f = tape.factors.get(`h.${l}.${m}`);
      if (!f?.delta) throw new Error(`h.${l}.${m}: no factors recorded; run the backward pass first`);
      names.push(`h.${l}.${m}.x`, `h.${l}.${m}.delta`);
      tensors.push(f.X, f.delta);
    }
  }
  const data = await readAll(model.k, [...tensors, firstLogits]);
  const out: TensorToWrite[] = names.map((name, i) => ({ name, dtype: 'F32', shape: [...tensors[i]!.shape], data: data[i] as Float32Array }));
  const logits = data[data.length - 1] as Float32Array;
  out.push({ name: 'logits', dtype: 'F32', shape: [model.config.vocabSize], data: logits.slice(0, model.config.vocabSize) });
  out.push({ name: 'input_ids', dtype: 'I32', shape: [pair.ids.length], data: Int32Array.from(pair.ids) });
  return out;
}
