// One forward + backward of `analyze`'s tape (input gradients and every module's
// factors, no weight gradients) on one prompt, waited for: what the pass benches time.
import { Tape } from '../../src/autograd/tape.ts';
import type { Model } from '../../src/model/model.ts';

export async function analysisPass(model: Model, ids: readonly number[], target: number): Promise<void> {
  const tape = new Tape(model.k, { grad: true });
  const out = model.forward(tape, [ids], [{ seq: 0, position: ids.length - 1, token: target }]);
  tape.backward(out.loss);
  await model.k.sync();
  tape.dispose();
}
