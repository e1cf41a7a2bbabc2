// The one-call op check (test/op-check.ts) catches what it is for: an engine
// gradient off the reference, and a reference gradient off its finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { gelu } from '../../src/ops/pointwise.ts';
import { rand } from '../helpers.ts';
import { opCase, type OpCheck } from '../op-check.ts';
import { geluBackwardRef, geluRef } from '../reference/ops.ts';

const GELU: OpCheck = {
  name: 'gelu n=7',
  inputs: [{ shape: [7], data: rand(7, 7, 3) }],
  op: (tape, x) => gelu(tape, x),
  ref: (x) => geluRef(x),
  refBackward: (dy, x) => [geluBackwardRef(x, dy)],
  tol: 1e-5,
};

test('a right op passes', async () => {
  await opCase(GELU).run(await getEngine());
});

test('an engine gradient off the reference fails', async () => {
  const off = opCase({ ...GELU, refBackward: (dy, x) => [geluBackwardRef(x, dy).map((g) => 1.01 * g)] });
  try {
    await off.run(await getEngine());
  } catch (e) {
    assert.match((e as Error).message, /gelu n=7: gradient of input 0: error/);
    return;
  }
  assert.unreachable('a 1 % gradient error passed');
});

test('a reference gradient off its finite differences fails, even where the engine agrees with it', async () => {
  const wrong = opCase({ ...GELU, refBackward: (dy, x) => [geluBackwardRef(x, dy).map((g) => 1.01 * g)], tol: 1e-5, gradTol: [1] });
  try {
    await wrong.run(await getEngine());
  } catch (e) {
    assert.match((e as Error).message, /reference gradient of input 0 at \d+ is off its finite difference/);
    return;
  }
  assert.unreachable('a wrong reference gradient passed');
});

test('forward only: no backward is run and a wrong output fails', async () => {
  const forward = opCase({ ...GELU, refBackward: undefined, ref: (x) => geluRef(x).map((y) => y + 1e-3) });
  try {
    await forward.run(await getEngine());
  } catch (e) {
    assert.match((e as Error).message, /gelu n=7: output: error/);
    return;
  }
  assert.unreachable('a wrong output passed');
});

test.run();
