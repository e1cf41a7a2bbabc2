// The factor export (issue: GPT-2 on the engine): every linear layer's X and Delta,
// the logits at the last prompt position and the input ids, named so Python can
// load them with safetensors.torch.load_file.
import { readAll } from '../gpu/buffers.ts';
import { ROLES } from '../model/config.ts';
import type { TensorToWrite } from '../model/safetensors.ts';
import type { Tensor } from '../tensor.ts';
import type { GradientPass } from '../pass/pass.ts';

/** One pair's factors of every layer and module, laid out as safetensors entries. */
export async function factorTensors(pass: GradientPass, pair: number): Promise<TensorToWrite[]> {
  const names: string[] = [];
  const tensors: Tensor[] = [];
  for (let l = 0; l < pass.model.config.nLayer; l++) {
    for (const role of ROLES) {
      const f = pass.factors(l, role, pair);
      const name = pass.model.family.linearName(l, role);
      names.push(`${name}.x`, `${name}.delta`);
      tensors.push(f.X, f.delta!);
    }
  }
  const [data, outputs] = await Promise.all([readAll(pass.model.k, tensors), pass.readOutputs()]);
  const out: TensorToWrite[] = names.map((name, i) => ({ name, dtype: 'F32', shape: [...tensors[i]!.shape], data: data[i] as Float32Array }));
  out.push({ name: 'logits', dtype: 'F32', shape: [pass.model.config.vocabSize], data: outputs[pair]!.logits });
  out.push({ name: 'input_ids', dtype: 'I32', shape: [pass.pairs[pair]!.ids.length], data: Int32Array.from(pass.pairs[pair]!.ids) });
  return out;
}
