// Validating reader and writer for the safetensors format: an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON describing each tensor, then the data
// section. Every number in the header is checked against the file size before
// anything is allocated or read, so a hostile header cannot make us allocate more
// than the file holds. No Node imports: this runs in the browser too.
//
// Typed arrays are used as little-endian views of the file's bytes; WebGPU and
// every engine we run on are little-endian.
import { BadInputError } from '../errors.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../half.ts';

export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 };

/** The reference implementation's limit; a larger header is refused unread. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_SIZES = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;

/** Dtypes readF32 or readI32 convert; the rest can only be listed. */
const DECODABLE: readonly string[] = ['F32', 'F16', 'BF16', 'F64', 'I32', 'I64'];
export type WritableDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

const DAMAGED = 're-download the file, or re-export it with a safetensors writer';

export class SafetensorsError extends BadInputError {
  override name = 'SafetensorsError';
  readonly file: string;
  readonly tensor: string | undefined;
  readonly problem: string;
  readonly fix: string | undefined;

  constructor(file: string, problem: string, where: { tensor?: string; fix?: string } = {}) {
    const tensor = where.tensor === undefined ? '' : ` tensor ${JSON.stringify(clip(where.tensor))}:`;
    super(oneLine(`${file}:${tensor} ${problem}${where.fix ? `; ${where.fix}` : ''}`));
    this.file = file;
    this.tensor = where.tensor;
    this.problem = problem;
    this.fix = where.fix;
  }
}

// Names and values quoted in messages come from the file: keep them short and
// free of line breaks so the message stays one line.
function clip(s: string, max = 120): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function show(value: unknown): string {
  return clip(JSON.stringify(value) ?? String(value), 80);
}

function damaged(file: string, problem: string, tensor?: string): SafetensorsError {
  return new SafetensorsError(file, problem, { tensor, fix: DAMAGED });
}

/** Refusal for PyTorch pickle checkpoints (`.bin`, `.pt`), with the conversion command. */
export function pickleRefusal(path: string): SafetensorsError {
  const out = path.replace(/[^/\\]*$/, 'model.safetensors');
  const command = 'python -c "import torch; from safetensors.torch import save_file; '
    + `sd = torch.load(${pyString(path)}, map_location='cpu'); `
    + `save_file({k: v.contiguous().clone() for k, v in sd.items()}, ${pyString(out)})"`;
  return new SafetensorsError(path,
    'is a PyTorch pickle checkpoint, which is not loaded because unpickling can run arbitrary code',
    { fix: `convert it to safetensors with: ${command}` });
}

function pyString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// ---------------------------------------------------------------------------
// Reading

/** Random access to a file's bytes, so large files are read tensor by tensor. */
export interface ByteSource {
  name: string;
  size: number;
  /** Returns a new buffer of exactly `length` bytes that the caller owns. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Fills `target` from `offset` without an intermediate buffer (large tensors straight into GPU memory). */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.length,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is outside its ${bytes.length} bytes`);
      }
      return bytes.slice(offset, offset + length);
    },
  };
}

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Byte range [begin, end) relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  name: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** Absolute file offset of the data section. */
  dataOffset: number;
  /** The tensor's raw little-endian bytes. */
  read(name: string): Promise<Uint8Array>;
  /** F32, F16, BF16 or F64 values as f32. */
  readF32(name: string): Promise<Float32Array>;
  /**
   * The tensor's raw bytes from byte `from` (default 0) copied straight into `target`,
   * as many as it holds (a split tensor's block at a time), in the file's dtype.
   */
  readInto(name: string, target: Uint8Array, from?: number): Promise<void>;
  /** I32 or I64 values (I64 must fit in 32 bits). */
  readI32(name: string): Promise<Int32Array>;
}

export async function openSafetensors(src: ByteSource): Promise<SafetensorsFile> {
  const headerLength = await readHeaderLength(src);
  const header = parseHeader(src.name, await readExact(src, 8, headerLength));
  const dataOffset = 8 + headerLength;
  const dataLength = src.size - dataOffset;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') metadata = checkMetadata(src.name, entry);
    else tensors.set(name, checkEntry(src.name, name, entry, dataLength));
  }
  checkTiling(src.name, [...tensors.values()], dataLength);
  return fileView(src, dataOffset, tensors, metadata);
}

async function readExact(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await src.read(offset, length);
  if (bytes.length !== length) {
    throw new SafetensorsError(src.name, `asked for ${length} bytes at offset ${offset} but got ${bytes.length}`,
      { fix: 'the file may have changed while being read; try again' });
  }
  return bytes;
}

async function readHeaderLength(src: ByteSource): Promise<number> {
  if (src.size < 8) throw damaged(src.name, `is ${src.size} bytes, too short to hold the 8-byte header length`);
  const prefix = await readExact(src, 0, 8);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw damaged(src.name, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (n > BigInt(src.size - 8)) {
    throw damaged(src.name, `header length ${n} runs past the end of the ${src.size}-byte file`);
  }
  return Number(n);
}

function parseHeader(file: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw damaged(file, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw damaged(file, `header is not valid JSON (${clip((e as Error).message)})`);
  }
  if (!isObject(header)) throw damaged(file, `header is not a JSON object (got ${kindOf(header)})`);
  return header;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

function checkMetadata(file: string, value: unknown): Record<string, string> {
  const problem = metadataProblem(value);
  if (problem) throw damaged(file, problem);
  return value as Record<string, string>;
}

function metadataProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `__metadata__ is ${kindOf(value)}, not an object of strings`;
  const bad = Object.entries(value).find(([, v]) => typeof v !== 'string');
  return bad && `__metadata__ value for ${show(bad[0])} is ${kindOf(bad[1])}, not a string`;
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function checkEntry(file: string, name: string, entry: unknown, dataLength: number): TensorInfo {
  if (!isObject(entry)) throw damaged(file, `entry is ${kindOf(entry)}, not an object`, name);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    throw damaged(file, `unknown dtype ${show(dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`, name);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw damaged(file, `shape ${show(shape)} is not a list of non-negative integers`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw damaged(file, `data_offsets ${show(offsets)} is not a pair [begin, end] of integers with 0 <= begin <= end`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw damaged(file, `data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section`, name);
  }
  const size = DTYPE_SIZES[dtype as Dtype];
  const count = elementCount(shape, dataLength);
  if (count === undefined || count * size !== end - begin) {
    // A dtype nothing here can decode is the likelier mistake than a lying size.
    if (!DECODABLE.includes(dtype)) throw damaged(file, `dtype ${dtype} is not supported (readable: ${DECODABLE.join(', ')}), and its byte span does not fit shape ${show(shape)} either`, name);
    const needs = count === undefined ? `more than the ${dataLength}-byte data section` : `${count * size} bytes`;
    throw damaged(file, `shape ${show(shape)} of ${dtype} needs ${needs} but data_offsets span ${end - begin}`, name);
  }
  return { name, dtype: dtype as Dtype, shape, begin, end };
}

// Stops as soon as the product passes `limit`, so shapes like [2^40, 2^40] never
// reach the unsafe-integer range and the product stays exact.
function elementCount(shape: number[], limit: number): number | undefined {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > limit) return undefined;
  }
  return count;
}

// Sorted ranges must tile the data section exactly: an overlap aliases two
// tensors, and a gap or a tail would hide bytes no tensor accounts for.
function checkTiling(file: string, tensors: TensorInfo[], dataLength: number): void {
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let last: TensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < cursor) {
      throw damaged(file, `bytes [${t.begin}, ${t.end}) overlap tensor ${show(last?.name)} at [${last?.begin}, ${last?.end})`, t.name);
    }
    if (t.begin > cursor) {
      throw damaged(file, `bytes [${cursor}, ${t.begin}) before this tensor belong to no tensor (a gap in the data section)`, t.name);
    }
    cursor = t.end;
    last = t;
  }
  if (cursor !== dataLength) {
    throw damaged(file, `bytes [${cursor}, ${dataLength}) at the end of the data section belong to no tensor`);
  }
}

function fileView(src: ByteSource, dataOffset: number, tensors: Map<string, TensorInfo>,
  metadata: Record<string, string>): SafetensorsFile {
  const info = (name: string): TensorInfo => {
    const t = tensors.get(name);
    if (!t) {
      throw new SafetensorsError(src.name, `has no tensor named ${show(name)} (it has ${tensors.size})`,
        { fix: 'check the tensor name against the checkpoint' });
    }
    return t;
  };
  const readInfo = (t: TensorInfo) => readExact(src, dataOffset + t.begin, t.end - t.begin);
  return {
    name: src.name,
    metadata,
    tensors,
    dataOffset,
    read: async (name) => readInfo(info(name)),
    readF32: async (name) => {
      const t = info(name);
      return f32Decoder(src.name, t)(await readInfo(t));
    },
    readI32: async (name) => {
      const t = info(name);
      return i32Decoder(src.name, t)(await readInfo(t));
    },
    readInto: async (name, target, from = 0) => {
      const t = info(name);
      if (from < 0 || from + target.length > t.end - t.begin) throw new RangeError(`${t.name}: ${target.length} bytes from byte ${from} run past its ${t.end - t.begin}`);
      if (src.readInto) await src.readInto(dataOffset + t.begin + from, target);
      else target.set(await readExact(src, dataOffset + t.begin + from, target.length));
    },
  };
}

// Decoders are chosen before reading so a wrong dtype fails without reading the data.
function f32Decoder(file: string, t: TensorInfo): (bytes: Uint8Array) => Float32Array {
  switch (t.dtype) {
    case 'F32': return (b) => typed(b, Float32Array);
    case 'F16': return (b) => f16ToF32(typed(b, Uint16Array));
    case 'BF16': return (b) => bf16ToF32(typed(b, Uint16Array));
    case 'F64': return (b) => new Float32Array(typed(b, Float64Array));
    default:
      throw new SafetensorsError(file, `has dtype ${t.dtype}, not a float type (F32, F16, BF16, F64)`,
        { tensor: t.name, fix: 'read it as integers, or store the weights as floats' });
  }
}

function i32Decoder(file: string, t: TensorInfo): (bytes: Uint8Array) => Int32Array {
  switch (t.dtype) {
    case 'I32': return (b) => typed(b, Int32Array);
    case 'I64': return (b) => narrowI64(file, t.name, typed(b, BigInt64Array));
    default:
      throw new SafetensorsError(file, `has dtype ${t.dtype}, not I32 or I64`,
        { tensor: t.name, fix: 'store integer data as I32 or I64' });
  }
}

function narrowI64(file: string, tensor: string, values: BigInt64Array): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < -0x80000000n || v > 0x7fffffffn) {
      throw new SafetensorsError(file, `I64 value ${v} at index ${i} does not fit in 32 bits`,
        { tensor, fix: 'store values within ±2^31' });
    }
    out[i] = Number(v);
  }
  return out;
}

interface TypedArrayClass<T> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

// A view when the bytes are aligned for T (they are for our sources), else a copy.
function typed<T>(bytes: Uint8Array, Class: TypedArrayClass<T>): T {
  const aligned = bytes.byteOffset % Class.BYTES_PER_ELEMENT === 0 ? bytes : bytes.slice();
  return new Class(aligned.buffer, aligned.byteOffset, aligned.length / Class.BYTES_PER_ELEMENT);
}

// ---------------------------------------------------------------------------
// Writing

export interface TensorToWrite {
  name: string;
  dtype: WritableDtype;
  shape: number[];
  /**
   * F32: Float32Array. F16/BF16: Float32Array (rounded to nearest even) or
   * Uint16Array of already-encoded bits. I32: Int32Array. I64: BigInt64Array or
   * Int32Array (widened).
   */
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array;
}

/** A tensor's name, dtype and shape: what a file's header needs before its data exists. */
export type TensorLayout = Omit<TensorToWrite, 'data'>;

/**
 * Encodes a safetensors file as chunks (header, then one per tensor) so a large
 * model is never copied into one buffer; write or concatenate them in order.
 * Tensors are laid out widest dtype first so each is aligned to its element size,
 * as the reference implementation does. `file` names the output in errors.
 */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>,
  file = 'safetensors output'): Uint8Array[] {
  // Spread at once, so every tensor is checked before any chunk is written.
  return [...streamSafetensors(tensors, (t) => t.data, metadata, file)];
}

/**
 * The same chunks, each tensor's data asked of `dataOf` only when its chunk is
 * reached: a checkpoint larger than memory is written holding one tensor at a time.
 * Names and shapes are checked before the header is yielded; a tensor's data when
 * its turn comes.
 */
export function* streamSafetensors<T extends TensorLayout>(tensors: readonly T[], dataOf: (t: T) => TensorToWrite['data'],
  metadata?: Record<string, string>, file = 'safetensors output'): Generator<Uint8Array> {
  const laidOut = [...tensors].sort((a, b) => DTYPE_SIZES[b.dtype] - DTYPE_SIZES[a.dtype]);
  const names = new Set<string>();
  const problem = metadata && metadataProblem(metadata);
  if (problem) throw new SafetensorsError(file, problem, { fix: 'pass metadata as an object of string values' });
  const entries: [string, unknown][] = metadata ? [['__metadata__', metadata]] : [];
  let offset = 0;
  for (const t of laidOut) {
    checkLayout(file, t, names);
    const size = count(t.shape) * DTYPE_SIZES[t.dtype];
    entries.push([t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] }]);
    offset += size;
  }
  // fromEntries defines own properties, so a tensor named "__proto__" stays a key.
  yield encodeHeader(file, Object.fromEntries(entries));
  for (const t of laidOut) {
    const data = dataOf(t);
    if (count(t.shape) !== data.length) {
      throw new SafetensorsError(file, `shape ${show(t.shape)} holds ${count(t.shape)} values but data has ${data.length}`, { tensor: t.name, fix: 'fix the tensor before saving' });
    }
    yield encodeData(file, { ...t, data });
  }
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function checkLayout(file: string, t: TensorLayout, names: Set<string>): void {
  const fail = (problem: string) => new SafetensorsError(file, problem, { tensor: t.name, fix: 'fix the tensor before saving' });
  if (t.name === '__metadata__') throw fail('"__metadata__" is reserved for metadata and cannot name a tensor');
  if (names.has(t.name)) throw fail('appears twice; tensor names must be unique');
  names.add(t.name);
  if (!t.shape.every(isCount)) throw fail(`shape ${show(t.shape)} is not a list of non-negative integers`);
}

function encodeData(file: string, t: TensorToWrite): Uint8Array {
  const d = t.data;
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F32': if (d instanceof Float32Array) return bytes(d); break;
    case 'F16': if (d instanceof Float32Array) return bytes(f32ToF16(d)); if (d instanceof Uint16Array) return bytes(d); break;
    case 'BF16': if (d instanceof Float32Array) return bytes(f32ToBf16(d)); if (d instanceof Uint16Array) return bytes(d); break;
    case 'I32': if (d instanceof Int32Array) return bytes(d); break;
    case 'I64': if (d instanceof BigInt64Array) return bytes(d); if (d instanceof Int32Array) return bytes(BigInt64Array.from(d, BigInt)); break;
  }
  throw new SafetensorsError(file, `${t.dtype} data cannot come from a ${d.constructor.name}`,
    { tensor: t.name, fix: 'pass Float32Array for floats (Uint16Array for pre-encoded F16/BF16), Int32Array or BigInt64Array for integers' });
}

// Padded with spaces to a multiple of 8 so the data section starts 8-aligned.
function encodeHeader(file: string, header: object): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = Math.ceil(json.length / 8) * 8;
  if (length > MAX_HEADER_BYTES) {
    throw new SafetensorsError(file, `header would be ${length} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers accept`,
      { fix: 'save fewer tensors or shorter metadata per file' });
  }
  const out = new Uint8Array(8 + length).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(json, 8);
  return out;
}
