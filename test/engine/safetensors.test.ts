import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bf16ToF32, bytesSource, encodeSafetensors, f16ToF32, f32ToBf16, f32ToF16, MAX_HEADER_BYTES, openSafetensors,
  pickleRefusal, SafetensorsError, type ByteSource, type SafetensorsFile, type TensorToWrite,
} from '../../src/model/safetensors.ts';
import { fileSource, writeSafetensorsFile, writeSafetensorsStreamed } from '../../src/model/node-file.ts';

const NAME = 'test.safetensors';

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * An in-memory source that fails the test (with a plain Error, which the fuzz
 * loop reports as a bug) on any read outside the file: the reader must have
 * checked every header number against the file size before asking for bytes.
 */
function guarded(bytes: Uint8Array): ByteSource {
  return {
    name: NAME,
    size: bytes.length,
    read: async (offset, length) => {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new Error(`out-of-file read: ${length} bytes at ${offset} of ${bytes.length}`);
      }
      return bytes.slice(offset, offset + length);
    },
  };
}

/** A file from a header (object, JSON text or raw bytes) and `dataLength` data bytes. */
function fileFrom(header: unknown, dataLength: number, headerLength?: bigint): Uint8Array {
  const h = header instanceof Uint8Array ? header
    : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

function sample(): TensorToWrite[] {
  return [
    { name: 'w', dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-3, -7) },
    { name: 'h', dtype: 'F16', shape: [5], data: Float32Array.of(0.5, -2, 1024, 65504, 2 ** -24) },
    { name: 'b', dtype: 'BF16', shape: [3], data: Float32Array.of(1, -0.5, 3) },
    { name: 'ids', dtype: 'I32', shape: [2], data: Int32Array.of(-1, 50256) },
    { name: 'pos', dtype: 'I64', shape: [1, 2], data: BigInt64Array.of(-5n, 7n) },
    { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
  ];
}

const FLOATS = new Set(['F32', 'F16', 'BF16', 'F64']);
const INTS = new Set(['I32', 'I64']);

/** Reads every tensor every way its dtype allows, checking sizes. */
async function readAll(f: SafetensorsFile, fileSize: number): Promise<void> {
  for (const t of f.tensors.values()) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    assert.ok(count <= fileSize, 'an element count beyond the file size got through');
    assert.is((await f.read(t.name)).length, t.end - t.begin);
    if (FLOATS.has(t.dtype)) assert.is((await f.readF32(t.name)).length, count);
    if (INTS.has(t.dtype)) assert.is((await f.readI32(t.name)).length, count);
  }
}

/** The SafetensorsError `run` throws; any other outcome fails the test. */
async function caught(run: () => Promise<unknown>): Promise<SafetensorsError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof SafetensorsError) return e;
    throw e;
  }
  throw new Error('expected a SafetensorsError, but nothing was thrown');
}

async function rejection(bytes: Uint8Array): Promise<SafetensorsError> {
  return caught(async () => readAll(await openSafetensors(guarded(bytes)), bytes.length));
}

async function rejects(bytes: Uint8Array, problem: RegExp, tensor?: string): Promise<SafetensorsError> {
  const e = await rejection(bytes);
  assert.match(e.problem, problem);
  assert.is(e.tensor, tensor);
  assert.is(e.file, NAME);
  assert.not.match(e.message, /\n/);
  return e;
}

// ---------------------------------------------------------------------------
// Round trips

test('round trip of every writable dtype', async () => {
  const tensors = sample();
  const bytes = concat(encodeSafetensors(tensors));
  const f = await openSafetensors(bytesSource(NAME, bytes));
  assert.equal([...f.tensors.keys()].sort(), tensors.map((t) => t.name).sort());
  for (const t of tensors) assert.equal(f.tensors.get(t.name)?.shape, t.shape);
  assert.equal([...await f.readF32('w')], [...(tensors[0].data as Float32Array)]);
  // Every F16/BF16 value here is representable, so the round trip is exact.
  assert.equal([...await f.readF32('h')], [0.5, -2, 1024, 65504, 2 ** -24]);
  assert.equal([...await f.readF32('b')], [1, -0.5, 3]);
  assert.equal([...await f.readI32('ids')], [-1, 50256]);
  assert.equal([...await f.readI32('pos')], [-5, 7]);
  assert.is((await f.readF32('empty')).length, 0);
  assert.equal(f.tensors.get('pos')?.dtype, 'I64');
});

test('F16 and BF16 round trips stay within half an ulp', async () => {
  const values = new Float32Array(4096);
  let s = 12345;
  for (let i = 0; i < values.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    values[i] = ((s / 2 ** 32) * 2 - 1) * 2 ** ((i % 24) - 12);
  }
  const bytes = concat(encodeSafetensors([
    { name: 'h', dtype: 'F16', shape: [values.length], data: values },
    { name: 'b', dtype: 'BF16', shape: [values.length], data: values },
  ]));
  const f = await openSafetensors(bytesSource(NAME, bytes));
  const h = await f.readF32('h');
  const b = await f.readF32('b');
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    assert.ok(Math.abs(h[i] - values[i]) <= Math.max(v * 2 ** -11, 2 ** -25), `f16 ${values[i]} -> ${h[i]}`);
    assert.ok(Math.abs(b[i] - values[i]) <= v * 2 ** -8, `bf16 ${values[i]} -> ${b[i]}`);
  }
});

test('pre-encoded F16/BF16 bits and widened I64 round trip exactly', async () => {
  const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000);
  const bytes = concat(encodeSafetensors([
    { name: 'h', dtype: 'F16', shape: [5], data: bits },
    { name: 'b', dtype: 'BF16', shape: [5], data: bits },
    { name: 'i', dtype: 'I64', shape: [3], data: Int32Array.of(-2147483648, 0, 2147483647) },
  ]));
  const f = await openSafetensors(bytesSource(NAME, bytes));
  assert.equal([...new Uint16Array((await f.read('h')).buffer)], [...bits]);
  assert.equal([...new Uint16Array((await f.read('b')).buffer)], [...bits]);
  assert.equal([...await f.readI32('i')], [-2147483648, 0, 2147483647]);
});

test('metadata round trips', async () => {
  const metadata = { format: 'pt', config: '{"n_embd": 768}', 'ünï': 'cödé ✓', empty: '' };
  const f = await openSafetensors(bytesSource(NAME, concat(encodeSafetensors(sample(), metadata))));
  assert.equal(f.metadata, metadata);
  assert.not.ok(f.tensors.has('__metadata__'));
  const none = await openSafetensors(bytesSource(NAME, concat(encodeSafetensors([]))));
  assert.equal(none.metadata, {});
  assert.is(none.tensors.size, 0);
});

test('unusual tensor names survive', async () => {
  const names = ['__proto__', 'constructor', '', 'h.0.attn.c_attn.weight', 'ünï "quoted"\n'];
  const bytes = concat(encodeSafetensors(names.map((name, i) => ({ name, dtype: 'I32', shape: [1], data: Int32Array.of(i) }))));
  const f = await openSafetensors(bytesSource(NAME, bytes));
  for (const [i, name] of names.entries()) assert.equal([...await f.readI32(name)], [i]);
});

test('a source returning unaligned views still decodes', async () => {
  const bytes = concat(encodeSafetensors(sample()));
  const plain = bytesSource(NAME, bytes);
  // Each read lands at an odd offset inside a larger buffer.
  const unaligned: ByteSource = { ...plain, read: async (o, n) => concat([new Uint8Array(1), await plain.read(o, n)]).subarray(1) };
  const f = await openSafetensors(unaligned);
  assert.equal([...await f.readF32('w')], [1, -2, 3.5, 0, Math.fround(1e-3), -7]);
  assert.equal([...await f.readF32('h')], [0.5, -2, 1024, 65504, 2 ** -24]);
  assert.equal([...await f.readI32('pos')], [-5, 7]);
});

test('header is space-padded to 8 bytes and every tensor is aligned', async () => {
  const chunks = encodeSafetensors(sample(), { a: 'b' });
  const n = Number(new DataView(chunks[0].buffer).getBigUint64(0, true));
  assert.is(n % 8, 0);
  assert.is(chunks[0].length, 8 + n);
  const text = new TextDecoder().decode(chunks[0].subarray(8));
  assert.ok(/^\{.*\} *$/.test(text));
  const f = await openSafetensors(bytesSource(NAME, concat(chunks)));
  assert.is(f.dataOffset, 8 + n);
  const sizes: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
  for (const t of f.tensors.values()) assert.is(t.begin % sizes[t.dtype], 0, t.name);
});

test('writer refuses what would make an invalid file', () => {
  const refuses = (tensors: TensorToWrite[], problem: RegExp, metadata?: Record<string, string>) => {
    try {
      encodeSafetensors(tensors, metadata, 'out.safetensors');
    } catch (e) {
      assert.instance(e, SafetensorsError);
      assert.match((e as SafetensorsError).problem, problem);
      assert.is((e as SafetensorsError).file, 'out.safetensors');
      return;
    }
    assert.unreachable('encodeSafetensors accepted bad input');
  };
  const t: TensorToWrite = { name: 'x', dtype: 'F32', shape: [2], data: new Float32Array(2) };
  refuses([t, { ...t }], /twice/);
  refuses([{ ...t, name: '__metadata__' }], /reserved/);
  refuses([{ ...t, shape: [3] }], /holds 3 values but data has 2/);
  refuses([{ ...t, shape: [-2, -1] }], /not a list of non-negative integers/);
  refuses([{ ...t, data: new Int32Array(2) }], /F32 data cannot come from a Int32Array/);
  refuses([{ ...t, dtype: 'I64', data: new Float32Array(2) }], /I64 data cannot come from a Float32Array/);
  refuses([t], /__metadata__ value for "k" is a number/, { k: 1 as unknown as string });
});

// ---------------------------------------------------------------------------
// Half-precision conversions, exhaustively

function nextUp(x: number): number {
  const b = new Float32Array([x]);
  new Uint32Array(b.buffer)[0] += x >= 0 ? 1 : -1;
  return b[0];
}

test('f16: every bit pattern round trips and rounding is to nearest even', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const values = f16ToF32(all);
  const back = f32ToF16(values);
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(values[h])) assert.ok(Number.isNaN(f16ToF32(Uint16Array.of(back[h]))[0]));
    else assert.is(back[h], h);
  }
  // Between consecutive positive finite values a < b: the midpoint goes to the even
  // one, anything above it to b, below it to a.
  for (let h = 0; h < 0x7bff; h++) {
    const a = values[h];
    const b = values[h + 1];
    const mid = Math.fround((a + b) / 2);
    assert.is(mid, (a + b) / 2);
    const [atMid, above, below] = f32ToF16(Float32Array.of(mid, nextUp(mid), Math.fround(mid - (nextUp(mid) - mid))));
    assert.is(atMid, h % 2 === 0 ? h : h + 1);
    assert.is(above, h + 1);
    assert.is(below, h);
  }
  assert.equal([...f32ToF16(Float32Array.of(65520, 1e6, -1e6, 2 ** -25, 3 * 2 ** -26, -0))],
    [0x7c00, 0x7c00, 0xfc00, 0, 1, 0x8000]);
});

test('bf16: every bit pattern round trips and rounding is to nearest even', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const values = bf16ToF32(all);
  const back = f32ToBf16(values);
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(values[h])) assert.ok(Number.isNaN(bf16ToF32(Uint16Array.of(back[h]))[0]));
    else assert.is(back[h], h);
  }
  for (let h = 0; h < 0x7f7f; h++) {
    const a = values[h];
    const b = values[h + 1];
    const mid = Math.fround((a + b) / 2);
    const [atMid, above] = f32ToBf16(Float32Array.of(mid, nextUp(mid)));
    assert.is(atMid, h % 2 === 0 ? h : h + 1);
    assert.is(above, h + 1);
  }
  assert.equal([...f32ToBf16(Float32Array.of(3.4028234663852886e38, Number.NaN))].map((x) => x.toString(16)), ['7f80', '7fc0']);
});

// ---------------------------------------------------------------------------
// Validation: one failing case per rule

const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

test('rejects a file too short for the length prefix', async () => {
  await rejects(new Uint8Array(5), /is 5 bytes, too short/);
});

test('rejects a header over 100 MB without reading it', async () => {
  await rejects(fileFrom('{}', 0, BigInt(MAX_HEADER_BYTES + 1)), /exceeds the 100000000-byte limit/);
  // A big file whose only readable bytes are the prefix: the length check must
  // come before any allocation or read of the header.
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 8), true);
  const huge: ByteSource = {
    name: NAME,
    size: 4 * MAX_HEADER_BYTES,
    read: async (offset, length) => {
      if (offset !== 0 || length !== 8) throw new Error(`read ${length} bytes at ${offset}`);
      return prefix.slice();
    },
  };
  assert.match((await caught(() => openSafetensors(huge))).problem, /exceeds the 100000000-byte limit/);
});

test('rejects a header length beyond the file', async () => {
  await rejects(fileFrom('{}', 0, 3n), /header length 3 runs past the end of the 10-byte file/);
  await rejects(fileFrom('{}', 0, 2n ** 64n - 1n), /header length 18446744073709551615 exceeds/);
});

test('rejects a header that is not UTF-8', async () => {
  await rejects(fileFrom(Uint8Array.of(0x7b, 0xff, 0x7d), 0), /not valid UTF-8/);
});

test('rejects malformed JSON', async () => {
  await rejects(fileFrom('{"w": {"dtype": "F32",', 0), /not valid JSON/);
  await rejects(fileFrom('', 0), /not valid JSON/);
});

test('rejects JSON that is not an object', async () => {
  await rejects(fileFrom('[]', 0), /not a JSON object \(got an array\)/);
  await rejects(fileFrom('null', 0), /not a JSON object \(got null\)/);
  await rejects(fileFrom('42', 0), /not a JSON object \(got a number\)/);
  await rejects(fileFrom('"{}"', 0), /not a JSON object \(got a string\)/);
});

test('rejects an entry that is not an object', async () => {
  await rejects(fileFrom({ w: [1, 2] }, 0), /entry is an array, not an object/, 'w');
  await rejects(fileFrom({ w: null }, 0), /entry is null/, 'w');
});

test('rejects an unknown dtype', async () => {
  await rejects(fileFrom({ w: entry('F128', [1], [0, 16]) }, 16), /unknown dtype "F128"/, 'w');
  await rejects(fileFrom({ w: entry('toString', [1], [0, 1]) }, 1), /unknown dtype "toString"/, 'w');
  await rejects(fileFrom({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /unknown dtype undefined/, 'w');
});

test('rejects a shape that is not a list of non-negative integers', async () => {
  for (const shape of [[-1], [1.5], ['2'], 4, null, [2 ** 53]]) {
    await rejects(fileFrom({ w: entry('F32', shape, [0, 4]) }, 4), /shape .* is not a list of non-negative integers/, 'w');
  }
});

test('rejects bad data_offsets', async () => {
  for (const offsets of [[4, 0], [0], [0, 4, 8], [-4, 0], [0, 4.5], [0, 2 ** 53], '0,4', null]) {
    await rejects(fileFrom({ w: entry('F32', [1], offsets) }, 4), /data_offsets .* is not a pair/, 'w');
  }
});

test('rejects a shape whose size disagrees with data_offsets', async () => {
  await rejects(fileFrom({ w: entry('F32', [2, 3], [0, 20]) }, 20), /shape \[2,3\] of F32 needs 24 bytes but data_offsets span 20/, 'w');
  await rejects(fileFrom({ w: entry('F32', [2 ** 40, 2 ** 40], [0, 16]) }, 16), /needs more than the 16-byte data section/, 'w');
  await rejects(fileFrom({ w: entry('F32', [], [0, 8]) }, 8), /needs 4 bytes but data_offsets span 8/, 'w');
});

test('an F8 tensor whose bytes do not fit its shape is reported as an unsupported dtype first, not as a size mismatch only', async () => {
  await rejects(fileFrom({ w: entry('F8_E4M3', [2, 3], [0, 24]) }, 24), /dtype F8_E4M3 is not supported \(readable: F32, F16, BF16, F64, I32, I64\), and its byte span does not fit shape \[2,3\]/, 'w');
  // A consistent F8 tensor is listed; reading it as floats is what fails.
  const f = await openSafetensors(bytesSource('f8', fileFrom({ w: entry('F8_E4M3', [2, 3], [0, 6]) }, 6)));
  assert.is(f.tensors.get('w')!.dtype, 'F8_E4M3');
});

test('rejects ranges outside the data section', async () => {
  await rejects(fileFrom({ w: entry('F32', [2], [4, 12]) }, 8), /data_offsets \[4, 12\] run past the 8-byte data section/, 'w');
});

test('rejects overlapping ranges', async () => {
  const header = { a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]), c: entry('F32', [1], [12, 16]) };
  await rejects(fileFrom(header, 16), /bytes \[4, 12\) overlap tensor "a" at \[0, 8\)/, 'b');
  await rejects(fileFrom({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [0, 8]) }, 8), /overlap tensor "a"/, 'b');
});

test('rejects a gap between ranges', async () => {
  const header = { a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) };
  await rejects(fileFrom(header, 12), /bytes \[4, 8\) before this tensor belong to no tensor/, 'b');
  await rejects(fileFrom({ a: entry('F32', [1], [4, 8]) }, 8), /bytes \[0, 4\) before/, 'a');
});

test('rejects data after the last range', async () => {
  await rejects(fileFrom({ a: entry('F32', [1], [0, 4]) }, 12), /bytes \[4, 12\) at the end of the data section belong to no tensor/);
  await rejects(fileFrom({}, 1), /bytes \[0, 1\) at the end/);
});

test('rejects bad __metadata__', async () => {
  await rejects(fileFrom({ __metadata__: ['x'] }, 0), /__metadata__ is an array, not an object of strings/);
  await rejects(fileFrom({ __metadata__: 'x' }, 0), /__metadata__ is a string/);
  await rejects(fileFrom({ __metadata__: { ok: 'y', k: 5 } }, 0), /__metadata__ value for "k" is a number, not a string/);
});

test('reads refuse the wrong dtype, unknown names and out-of-range I64', async () => {
  const bytes = concat(encodeSafetensors([
    { name: 'f', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    { name: 'i', dtype: 'I32', shape: [1], data: new Int32Array(1) },
    { name: 'big', dtype: 'I64', shape: [2], data: BigInt64Array.of(1n, 2n ** 31n) },
  ]));
  const f = await openSafetensors(guarded(bytes));
  const fails = async (read: () => Promise<unknown>, problem: RegExp) => assert.match((await caught(read)).problem, problem);
  await fails(() => f.readF32('i'), /has dtype I32, not a float type/);
  await fails(() => f.readI32('f'), /has dtype F32, not I32 or I64/);
  await fails(() => f.readI32('big'), /I64 value 2147483648 at index 1 does not fit in 32 bits/);
  await fails(() => f.read('nope'), /has no tensor named "nope"/);
});

test('a source that returns fewer bytes than asked is an error', async () => {
  const bytes = concat(encodeSafetensors(sample()));
  const short: ByteSource = { ...bytesSource(NAME, bytes), read: async (o, n) => bytes.slice(o, o + Math.max(0, n - 1)) };
  assert.match((await caught(() => openSafetensors(short))).problem, /asked for 8 bytes at offset 0 but got 7/);
});

test('messages are one line naming file, tensor, problem and fix', async () => {
  const e = await rejects(fileFrom({ 'evil\nname': entry('F128', [1], [0, 1]) }, 1), /unknown dtype/, 'evil\nname');
  assert.ok(e.message.startsWith(`${NAME}: tensor "evil\\nname": unknown dtype "F128"`), e.message);
  assert.match(e.message, /; re-download the file/);
  const p = pickleRefusal('models/gpt2/pytorch_model.bin');
  assert.is(p.file, 'models/gpt2/pytorch_model.bin');
  assert.match(p.problem, /pickle/);
  assert.match(p.message, /torch\.load\('models\/gpt2\/pytorch_model\.bin'.*save_file\(.*'models\/gpt2\/model\.safetensors'\)/);
  assert.not.match(p.message, /\n/);
});

// ---------------------------------------------------------------------------
// Fuzz

function xorshift(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
type Rng = ReturnType<typeof xorshift>;

const BASE = concat(encodeSafetensors(sample(), { format: 'pt', note: 'fuzz base' }));
const BASE_N = Number(new DataView(BASE.buffer).getBigUint64(0, true));
const BASE_HEADER = JSON.parse(new TextDecoder().decode(BASE.subarray(8, 8 + BASE_N))) as Record<string, Record<string, unknown>>;
const BASE_DATA = BASE.subarray(8 + BASE_N);
const TENSOR_NAMES = Object.keys(BASE_HEADER).filter((k) => k !== '__metadata__');

const WEIRD_NUMBERS = [-1, -0, 0.5, 1.5, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1e308, BASE_DATA.length,
  BASE_DATA.length + 1, BASE.length, '4', null, true, [], {}];

const withData = (header: unknown, data: Uint8Array = BASE_DATA) => concat([fileFrom(header, 0), data]);
const cloneHeader = () => structuredClone(BASE_HEADER);
const randomTensor = (rng: Rng) => rng.pick(TENSOR_NAMES);

const MUTATIONS: Record<string, (rng: Rng) => Uint8Array> = {
  truncate: (rng) => BASE.slice(0, rng.int(BASE.length)),
  flipHeaderBytes: (rng) => {
    const out = BASE.slice();
    for (let k = 1 + rng.int(4); k > 0; k--) out[8 + rng.int(BASE_N)] = rng.int(256);
    return out;
  },
  flipAnyBit: (rng) => {
    const out = BASE.slice();
    out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  lyingHeaderLength: (rng) => {
    const out = BASE.slice();
    const lies = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n, BigInt(MAX_HEADER_BYTES + 1), 0n, 1n, BigInt(BASE.length - 7),
      BigInt(BASE.length), BigInt(BASE_N - 1 - rng.int(BASE_N)), BigInt(BASE_N + 1 + rng.int(BASE_DATA.length))];
    new DataView(out.buffer).setBigUint64(0, rng.pick(lies), true);
    return out;
  },
  lyingOffsets: (rng) => {
    const h = cloneHeader();
    const offsets = h[randomTensor(rng)].data_offsets as unknown[];
    offsets[rng.int(2)] = rng.next() < 0.5 ? rng.pick(WEIRD_NUMBERS) : rng.int(BASE_DATA.length + 2);
    return withData(h);
  },
  overlap: (rng) => {
    const h = cloneHeader();
    const [a, b] = [randomTensor(rng), randomTensor(rng)];
    h[a] = { ...h[b] };
    // Keep both tensors by renaming the copy; a shifted copy overlaps partially.
    if (rng.next() < 0.5) h[`${a}_copy`] = { ...h[a], data_offsets: (h[a].data_offsets as number[]).map((x) => x + rng.int(3)) };
    return withData(h);
  },
  gap: (rng) => {
    const h = cloneHeader();
    const choice = rng.int(3);
    if (choice === 0) delete h[randomTensor(rng)];
    if (choice === 1) {
      const t = h[randomTensor(rng)];
      const k = 1 + rng.int(8);
      t.data_offsets = (t.data_offsets as number[]).map((x) => x + k);
      return withData(h, concat([BASE_DATA, new Uint8Array(k)]));
    }
    return withData(h, concat([BASE_DATA, new Uint8Array(choice === 2 ? 1 + rng.int(16) : 0)]));
  },
  badJson: (rng) => {
    const text = new TextDecoder().decode(BASE.subarray(8, 8 + BASE_N));
    const at = rng.int(text.length);
    const junk = rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', 'é', '1e999', '']);
    const cut = rng.int(3);
    return withData(text.slice(0, at) + junk + text.slice(at + cut));
  },
  unknownDtype: (rng) => {
    const h = cloneHeader();
    h[randomTensor(rng)].dtype = rng.pick(['F128', '', 'f32', 'toString', '__proto__', 'constructor', 'F32 ', 5, null, ['F32'], { F32: 1 }]);
    return withData(h);
  },
  swapDtype: (rng) => {
    const h = cloneHeader();
    h[randomTensor(rng)].dtype = rng.pick(['F32', 'I32', 'U32', 'F16', 'BF16', 'I16', 'U8', 'BOOL', 'F64', 'I64', 'U64', 'F8_E4M3']);
    return withData(h);
  },
  hugeShape: (rng) => {
    const h = cloneHeader();
    h[randomTensor(rng)].shape = rng.pick([[2 ** 40, 2 ** 40], [2 ** 52], [2 ** 26, 2 ** 26, 2 ** 26], [0, 2 ** 52], [2 ** 30, 0],
      new Array(100_000).fill(2), new Array(1000).fill(1), [2 ** 53 - 1, 2 ** 53 - 1], [BASE_DATA.length]]);
    return withData(h);
  },
  badNumbers: (rng) => {
    const h = cloneHeader();
    const t = h[randomTensor(rng)];
    const field = rng.pick(['shape', 'data_offsets'] as const);
    const list = Array.isArray(t[field]) && (t[field] as unknown[]).length ? [...(t[field] as unknown[])] : [0];
    list[rng.int(list.length)] = rng.pick(WEIRD_NUMBERS);
    t[field] = rng.next() < 0.8 ? list : rng.pick(WEIRD_NUMBERS);
    // JSON.stringify cannot write Infinity, so splice it in as text.
    return withData(rng.next() < 0.1 ? JSON.stringify(h).replace(/\d+(?=\])/, '1e400') : h);
  },
  nonObject: (rng) => withData(rng.pick(['[]', '1', '"x"', 'null', 'true', '[{"dtype":"F32"}]', '  ', '{}{}', '{"a":1}x'])),
  badMetadata: (rng) => {
    const h: Record<string, unknown> = cloneHeader();
    h.__metadata__ = rng.pick([[], 5, 'x', null, { k: 1 }, { k: null }, { k: ['v'] }, { k: { v: 'w' } }, { k: 'v' }, {}]);
    return withData(h);
  },
  badEntry: (rng) => {
    const h: Record<string, unknown> = cloneHeader();
    const name = randomTensor(rng);
    const t = { ...BASE_HEADER[name] };
    delete t[rng.pick(['dtype', 'shape', 'data_offsets'])];
    h[name] = rng.pick([null, [], 'F32', 7, {}, t, { ...t, extra: 1 }]);
    return withData(h);
  },
  combined: (rng) => {
    const bytes = MUTATIONS[rng.pick(['lyingOffsets', 'overlap', 'swapDtype', 'hugeShape', 'badNumbers'])](rng);
    const out = bytes.slice(0, bytes.length - rng.int(4));
    if (rng.next() < 0.5) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
};

test('fuzz: corrupted files open cleanly or throw SafetensorsError', async () => {
  const CASES = 3000;
  const rng = xorshift(0x5afe7e45);
  const kinds = Object.keys(MUTATIONS);
  const tally: Record<string, { opened: number; rejected: number }> = {};
  const start = performance.now();
  for (let i = 0; i < CASES; i++) {
    const kind = kinds[i % kinds.length];
    const bytes = MUTATIONS[kind](rng);
    const t = (tally[kind] ??= { opened: 0, rejected: 0 });
    try {
      await readAll(await openSafetensors(guarded(bytes)), bytes.length);
      t.opened++;
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw new Error(`case ${i} (${kind}) threw ${(e as Error)?.stack ?? e}`);
      assert.not.match(e.message, /\n/);
      t.rejected++;
    }
  }
  const ms = performance.now() - start;
  console.log(`  fuzz: ${CASES} cases in ${ms.toFixed(0)} ms`);
  for (const kind of kinds) assert.ok(tally[kind].rejected > 0, `${kind} never produced a bad file`);
  assert.ok(kinds.some((k) => tally[k].opened > 0), 'no mutation was harmless');
  assert.ok(ms < 20_000, `fuzz took ${ms} ms`);
});

// ---------------------------------------------------------------------------
// Node files

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'safetensors-test-'));
}

test('fileSource reads a 1 MB file at offsets', async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, 'model.safetensors');
    const big = new Float32Array(1 << 18).map((_, i) => Math.sin(i) * i);
    const tensors: TensorToWrite[] = [
      { name: 'big', dtype: 'F32', shape: [512, 512], data: big },
      { name: 'ids', dtype: 'I32', shape: [3], data: Int32Array.of(1, 2, 3) },
    ];
    await writeSafetensorsFile(path, tensors, { k: 'v' });
    const onDisk = new Uint8Array(await readFile(path));
    assert.equal(onDisk, concat(encodeSafetensors(tensors, { k: 'v' })));
    assert.ok(onDisk.length > 1 << 20);
    const src = await fileSource(path);
    try {
      assert.is(src.size, onDisk.length);
      for (const [offset, length] of [[0, 8], [12345, 100_000], [onDisk.length - 3, 3], [7, 0]]) {
        assert.equal(await src.read(offset, length), onDisk.slice(offset, offset + length));
      }
      const f = await openSafetensors(src);
      assert.equal(f.metadata, { k: 'v' });
      assert.equal(await f.readF32('big'), big);
      assert.equal([...await f.readI32('ids')], [1, 2, 3]);
    } finally {
      await src.close();
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

async function fileError(run: () => Promise<unknown>): Promise<SafetensorsError> {
  const e = await caught(run);
  assert.not.match(e.message, /\n/);
  return e;
}

test('fileSource: missing file, directory, file shrunk while open', async () => {
  const dir = await tempDir();
  try {
    const missing = join(dir, 'nope.safetensors');
    const e = await fileError(() => fileSource(missing));
    assert.is(e.file, missing);
    assert.match(e.message, /: cannot read: no such file or directory; check the path$/);
    assert.match((await fileError(() => fileSource(dir))).problem, /not a regular file/);
    const path = join(dir, 'shrinks.safetensors');
    await writeFile(path, new Uint8Array(100));
    const src = await fileSource(path);
    try {
      await truncate(path, 10);
      assert.match((await fileError(() => src.read(0, 100))).problem, /ended at byte 10/);
    } finally {
      await src.close();
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a failed write leaves nothing behind', async () => {
  const dir = await tempDir();
  try {
    const good: TensorToWrite[] = [{ name: 'x', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }];
    // Bad tensors: refused before any file is created.
    await fileError(() => writeSafetensorsFile(join(dir, 'a.safetensors'), [{ ...good[0], shape: [3] }]));
    // A missing directory.
    await fileError(() => writeSafetensorsFile(join(dir, 'no', 'a.safetensors'), good));
    // The rename fails (a non-empty directory is in the way) after the temp file was written.
    await mkdir(join(dir, 'taken', 'child'), { recursive: true });
    const e = await fileError(() => writeSafetensorsFile(join(dir, 'taken'), good));
    assert.match(e.problem, /cannot write/);
    assert.equal((await readdir(dir)).sort(), ['taken']);
    // Overwriting an existing file replaces it whole.
    const path = join(dir, 'm.safetensors');
    await writeFile(path, 'old');
    await writeSafetensorsFile(path, good);
    assert.equal(new Uint8Array(await readFile(path)), concat(encodeSafetensors(good)));
    assert.equal((await readdir(dir)).sort(), ['m.safetensors', 'taken']);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('streamed writing: the same bytes as the whole-file writer, each tensor asked for once, in file order; a bad tensor mid-write leaves nothing', async () => {
  const dir = await tempDir();
  try {
    const tensors: TensorToWrite[] = [
      { name: 'h', dtype: 'BF16', shape: [3, 5], data: f32ToBf16(Float32Array.from({ length: 15 }, (_, i) => i / 7)) },
      { name: 'w', dtype: 'F32', shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => -i) },
      { name: 'ids', dtype: 'I64', shape: [2], data: Int32Array.of(4, 5) },
    ];
    const asked: string[] = [];
    const path = join(dir, 'streamed.safetensors');
    await writeSafetensorsStreamed(path, tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), (t) => {
      asked.push(t.name);
      return tensors.find((x) => x.name === t.name)!.data;
    }, { k: 'v' });
    assert.equal(new Uint8Array(await readFile(path)), concat(encodeSafetensors(tensors, { k: 'v' })));
    assert.equal(asked, ['ids', 'w', 'h']);
    // A wrong length is found when its tensor's turn comes, after the header went out.
    const e = await fileError(() => writeSafetensorsStreamed(path, [{ name: 'x', dtype: 'F32', shape: [3] }], () => new Float32Array(2)));
    assert.match(e.problem, /holds 3 values but data has 2/);
    assert.is(e.tensor, 'x');
    assert.equal(new Uint8Array(await readFile(path)), concat(encodeSafetensors(tensors, { k: 'v' })));
    assert.equal(await readdir(dir), ['streamed.safetensors']);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test.run();
