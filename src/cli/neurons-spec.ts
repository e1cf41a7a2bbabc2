// `--neurons LAYER.MODULE`: which gradient matrix the per-neuron view takes apart.
import { BadInputError } from '../errors.ts';
import { MODULE_NAMES, moduleByName, type LinearModule } from '../model/config.ts';

/** Parses `LAYER.MODULE` (e.g. `5.mlp.c_proj`; ff1 and ff2 name the MLP matrices). */
export function parseNeuronSpec(spec: string, nLayer: number): { layer: number; module: LinearModule } {
  const m = /^(\d+)\.(.+)$/.exec(spec.trim());
  const module = m ? moduleByName(m[2]!) : undefined;
  if (!m || !module) throw new BadInputError(`--neurons "${spec}": expected LAYER.MODULE with MODULE one of ${MODULE_NAMES} (e.g. 5.mlp.c_proj)`);
  const layer = Number(m[1]);
  if (layer >= nLayer) throw new BadInputError(`--neurons "${spec}": layer ${layer} does not exist: this model has layers 0-${nLayer - 1}`);
  return { layer, module };
}
