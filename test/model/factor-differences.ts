// Checks a float64 model reference's factors against the loss it computes: for a few
// entries of each linear module's weight and bias, Σ_t δ_t[o]·x_t[i] (Σ_t δ_t[o] for
// a bias) must equal the central difference of the loss.
import * as assert from 'uvu/assert';

export interface FactorsRef {
  x: Float64Array;
  delta: Float64Array;
  rows: number;
  inDim: number;
  outDim: number;
}

/** `entries(f)`: the flat indices to check in a module's [out, in] weight and in its bias. */
export function assertFactorsByDifferences(
  params: Record<string, Float64Array>, factors: Record<string, FactorsRef>, modules: readonly string[], loss: () => number,
  entries: (f: FactorsRef) => { weight: readonly number[]; bias: readonly number[] },
): void {
  const h = 1e-5;
  for (const name of modules) {
    const f = factors[name]!;
    const picked = entries(f);
    for (const [suffix, list] of [['weight', picked.weight], ['bias', picked.bias]] as const) {
      const p = params[`${name}.${suffix}`];
      if (!p) continue;
      for (const e of list) {
        const [o, i] = suffix === 'weight' ? [Math.floor(e / f.inDim), e % f.inDim] : [e, -1];
        let analytic = 0;
        for (let t = 0; t < f.rows; t++) analytic += f.delta[t * f.outDim + o]! * (i < 0 ? 1 : f.x[t * f.inDim + i]!);
        const was = p[e]!;
        p[e] = was + h;
        const up = loss();
        p[e] = was - h;
        const down = loss();
        p[e] = was;
        const numeric = (up - down) / (2 * h);
        // float64 central differences at h = 1e-5: truncation ~h² and rounding ~1e-16/h, far under 1e-6.
        assert.ok(Math.abs(numeric - analytic) <= 1e-6 * Math.max(1, Math.abs(analytic)), `${name}.${suffix}[${e}]: numeric ${numeric}, factors ${analytic}`);
      }
    }
  }
}
