// The loader's finiteness check reads stored bit patterns, not values
// (src/model/finite.ts, checkFiniteBits): every NaN and infinity of each dtype must
// be caught, and named by its value and its element in the whole tensor, while the
// extremes of the finite range (largest, smallest subnormal, negative zero) pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFiniteBits } from '../../src/model/finite.ts';

type Stored = 'F32' | 'F16' | 'BF16';
const WIDTH: Record<Stored, number> = { F32: 4, F16: 2, BF16: 2 };

/** Seven values of `dtype` as stored bytes, all `fill` except `bad` at `at`, starting `skip` bytes into a larger buffer. */
function stored(dtype: Stored, fill: number, bad: number, at: number, skip = 0): Uint8Array {
  const w = WIDTH[dtype];
  const buffer = new ArrayBuffer(skip + 7 * w);
  const bits = w === 4 ? new Uint32Array(buffer, skip, 7) : new Uint16Array(buffer, skip, 7);
  bits.fill(fill);
  bits[at] = bad;
  return new Uint8Array(buffer, skip, 7 * w);
}

const failure = (bytes: Uint8Array, dtype: Stored, first = 0) => {
  try {
    checkFiniteBits(bytes, dtype, 'w', 'model.safetensors', first);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
};

const CASES: Record<Stored, { finite: number[]; bad: [number, string][] }> = {
  // Largest finite, smallest subnormal, -0, -1.5.
  F32: { finite: [0x7f7fffff, 0x00000001, 0x80000000, 0xbfc00000], bad: [[0x7f800000, 'Infinity'], [0xff800000, '-Infinity'], [0x7fc00000, 'NaN'], [0x7f800001, 'NaN'], [0xffffffff, 'NaN']] },
  F16: { finite: [0x7bff, 0x0001, 0x8000, 0xbe00], bad: [[0x7c00, 'Infinity'], [0xfc00, '-Infinity'], [0x7e00, 'NaN'], [0x7c01, 'NaN'], [0xffff, 'NaN']] },
  BF16: { finite: [0x7f7f, 0x0001, 0x8000, 0xbfc0], bad: [[0x7f80, 'Infinity'], [0xff80, '-Infinity'], [0x7fc0, 'NaN'], [0x7f81, 'NaN'], [0xffff, 'NaN']] },
};

for (const dtype of ['F32', 'F16', 'BF16'] as Stored[]) {
  test(`${dtype}: the extremes of the finite range pass`, () => {
    for (const f of CASES[dtype].finite) assert.is(failure(stored(dtype, f, f, 0, 4), dtype), '', `0x${f.toString(16)}`);
  });

  test(`${dtype}: every NaN and infinity is named with its value and its element in the tensor`, () => {
    for (const [bad, shown] of CASES[dtype].bad) {
      for (const at of [0, 3, 6]) {
        const got = failure(stored(dtype, CASES[dtype].finite[0]!, bad, at, 8), dtype, 1000);
        assert.is(got, `model.safetensors: tensor w holds ${shown} at element ${1000 + at}; the weights are damaged (NaN or infinity), re-download or re-export them`, `0x${bad.toString(16)} at ${at}`);
      }
    }
  });
}

test.run();
