// Half-precision conversions (IEEE F16 and bfloat16 bit patterns in Uint16Array),
// shared by the safetensors reader and writer and by readbacks of 16-bit weights.

export function f32ToF16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16(bits[i]);
  return out;
}

function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e < -10) return sign; // below half the smallest subnormal
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (e <= 0) return sign | roundShift(mant | 0x800000, 14 - e);
  return sign | roundShift((e << 23) | mant, 13);
}

/** v >> shift, rounded to nearest, ties to even. */
function roundShift(v: number, shift: number): number {
  const q = v >>> shift;
  const rest = v & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return q + (rest > half || (rest === half && (q & 1)) ? 1 : 0);
}

let f16Table: Float32Array | undefined;

// A 64 K-entry table makes F16 checkpoints convert at memory speed.
export function f16ToF32(bits: Uint16Array): Float32Array {
  const table = (f16Table ??= buildF16Table());
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 31) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1024 + mant) * 2 ** (exp - 25);
  }
  return table;
}

export function f32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    // NaN must stay NaN (rounding could carry it into infinity); keep it quiet.
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}
