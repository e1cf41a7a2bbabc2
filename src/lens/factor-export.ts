// The factor export (issue: GPT-2 on the engine): every linear module's X and Delta,
// the logits at the last prompt position and the input ids, named so Python can
// load them with safetensors.torch.load_file. Modules are the checkpoint's: each
// stored part of a role the engine joins (Llama's q_proj, k_proj, v_proj) gets the
// role's X and its own columns of the role's Delta.
import { readAll } from '../gpu/buffers.ts';
import { blockModules } from '../model/families/index.ts';
import { ROLES } from '../model/config.ts';
import type { TensorToWrite } from '../model/safetensors.ts';
import type { GradientPass } from '../pass/pass.ts';

/** Columns [from, from + width) of every row of a [rows, cols] matrix. */
function columnsOf(data: Float32Array, rows: number, cols: number, from: number, width: number): Float32Array {
  if (from === 0 && width === cols) return data;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

/** One pair's factors of every layer and module, laid out as safetensors entries. */
export async function factorTensors(pass: GradientPass, pair: number): Promise<TensorToWrite[]> {
  const { config, family } = pass.model;
  const factors = Array.from({ length: config.nLayer }, (_, layer) => ROLES.map((role) => ({ layer, role, f: pass.factors(layer, role, pair) }))).flat();
  const [data, outputs] = await Promise.all([readAll(pass.model.k, factors.flatMap(({ f }) => [f.X, f.delta!])), pass.readOutputs()]);
  const out: TensorToWrite[] = [];
  factors.forEach(({ layer, role, f }, i) => {
    const [X, delta] = [data[2 * i] as Float32Array, data[2 * i + 1] as Float32Array];
    for (const m of blockModules(config, [role])) {
      const name = family.blockName(layer, m.name);
      out.push({ name: `${name}.x`, dtype: 'F32', shape: [f.rows, f.inDim], data: X });
      out.push({ name: `${name}.delta`, dtype: 'F32', shape: [f.rows, m.width], data: columnsOf(delta, f.rows, f.outDim, m.from, m.width) });
    }
  });
  out.push({ name: 'logits', dtype: 'F32', shape: [config.vocabSize], data: outputs[pair]!.logits });
  out.push({ name: 'input_ids', dtype: 'I32', shape: [pass.pairs[pair]!.ids.length], data: Int32Array.from(pass.pairs[pair]!.ids) });
  return out;
}
