// `--neurons LAYER.MODULE`: which gradient matrix the per-neuron view takes apart.
import { BadInputError } from '../errors.ts';
import type { Role } from '../model/config.ts';
import { MODULE_NAMES, roleNamed } from '../model/families/index.ts';

/**
 * Parses `LAYER.MODULE`: a checkpoint's module name, a role (5.ff_out) or ff1/ff2
 * (5.ff2); `module` keeps the name (lower-cased), so that a stored part of a joined
 * role (5.mlp.up_proj, 5.ff1 on a Llama) is viewed alone.
 */
export function parseNeuronSpec(spec: string, nLayer: number): { layer: number; role: Role; module: string } {
  const m = /^(\d+)\.(.+)$/.exec(spec.trim());
  const role = m ? roleNamed(m[2]!) : undefined;
  if (!m || !role) throw new BadInputError(`--neurons "${spec}": expected LAYER.MODULE with MODULE one of ${MODULE_NAMES} (e.g. 5.ff2)`);
  const layer = Number(m[1]);
  if (layer >= nLayer) throw new BadInputError(`--neurons "${spec}": layer ${layer} does not exist: this model has layers 0-${nLayer - 1}`);
  return { layer, role, module: m[2]!.toLowerCase() };
}
