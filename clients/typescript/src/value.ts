/**
 * User values: the spec's MessagePack type table (SPEC.md section 4).
 *
 * `encodeValue` writes the canonical form every implementation must produce
 * and rejects, with the path of the offending value, anything outside the
 * table; `decodeValue` reads exactly the table. Both are written here
 * because no MessagePack library for JavaScript meets these rules, whatever
 * its options. The conformance vectors (conformance/vectors/v1/values.json)
 * that `@msgpack/msgpack` 3.1 gets wrong, checked by test/value.test.mjs:
 *
 * - `values.float.negative_zero`: `-0` is written as the int 0, losing its
 *   sign (SPEC.md: `-0` is sent as float64). No option keeps it a float.
 * - `values.int.uint64_min`: with `useBigInt64`, which bigints need, an
 *   integral number beyond 32 bits is written as a float 64; without it,
 *   a bigint (`values.int.int64_max`) cannot be written at all.
 * - `values.invalid.datetime`, `values.invalid.undefined`,
 *   `values.invalid.depth_65`: a `Date` becomes the timestamp ext type,
 *   `undefined` becomes nil, and too deep a value fails with an untyped
 *   error without a path; class instances become maps.
 * - `values.undecodable.invalid_utf8`: a str that is not UTF-8 is decoded
 *   with U+FFFD in place of the bad bytes instead of failing
 *   (`rawStrings` turns every str into bytes instead).
 * - `values.undecodable.ext_fixext1`, `values.undecodable.int_key`,
 *   `values.undecodable.uint64_over_int64`: ext types, int map keys and
 *   ints beyond int64 are decoded instead of rejected.
 *
 * `msgpackr` 2.1 gets `values.float.negative_zero` and
 * `values.undecodable.invalid_utf8` wrong too. The tests still use
 * `@msgpack/msgpack`, as an independent decoder of what is written here.
 */
import { MalformedRecordError, UnsupportedValueError } from './errors.js';

/** A value of the spec's type table, as TypeScript holds it. */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Value[]
  | { [key: string]: Value }
  | Map<string, Value>;

/** Deepest nesting of a user value; the root is at depth 0. */
export const MAX_DEPTH = 64;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A growable byte buffer that MessagePack is written into. */
export class ByteSink {
  private bytes: Uint8Array;
  private view: DataView;
  /** Bytes written so far. */
  length = 0;

  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  /** Forgets what was written, keeping the memory. */
  reset(): void {
    this.length = 0;
  }

  private reserve(n: number): number {
    const at = this.length;
    const needed = at + n;
    if (needed > this.bytes.length) {
      let capacity = this.bytes.length * 2;
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = needed;
    return at;
  }

  byte(b: number): void {
    const at = this.reserve(1);
    this.bytes[at] = b;
  }

  u8(marker: number, v: number): void {
    const at = this.reserve(2);
    this.bytes[at] = marker;
    this.bytes[at + 1] = v;
  }

  u16(marker: number, v: number): void {
    const at = this.reserve(3);
    this.bytes[at] = marker;
    this.view.setUint16(at + 1, v);
  }

  u32(marker: number, v: number): void {
    const at = this.reserve(5);
    this.bytes[at] = marker;
    this.view.setUint32(at + 1, v);
  }

  i8(marker: number, v: number): void {
    const at = this.reserve(2);
    this.bytes[at] = marker;
    this.view.setInt8(at + 1, v);
  }

  i16(marker: number, v: number): void {
    const at = this.reserve(3);
    this.bytes[at] = marker;
    this.view.setInt16(at + 1, v);
  }

  i32(marker: number, v: number): void {
    const at = this.reserve(5);
    this.bytes[at] = marker;
    this.view.setInt32(at + 1, v);
  }

  u64(marker: number, v: bigint): void {
    const at = this.reserve(9);
    this.bytes[at] = marker;
    this.view.setBigUint64(at + 1, v);
  }

  i64(marker: number, v: bigint): void {
    const at = this.reserve(9);
    this.bytes[at] = marker;
    this.view.setBigInt64(at + 1, v);
  }

  /** Writes a float 64; every NaN as the quiet NaN `7ff8000000000000` (SPEC.md section 4). */
  f64(v: number): void {
    const at = this.reserve(9);
    this.bytes[at] = 0xcb;
    if (Number.isNaN(v)) {
      this.view.setBigUint64(at + 1, 0x7ff8000000000000n);
    } else {
      this.view.setFloat64(at + 1, v);
    }
  }

  raw(data: Uint8Array): void {
    const at = this.reserve(data.length);
    this.bytes.set(data, at);
  }

  /** Writes `s` as UTF-8; `byteLength` is its encoded length. */
  utf8(s: string, byteLength: number): void {
    const at = this.reserve(byteLength);
    textEncoder.encodeInto(s, this.bytes.subarray(at, at + byteLength));
  }
}

const textEncoder = new TextEncoder();

/** Appends the canonical encoding of an integer given as a number in the safe range. */
function writeSafeInt(out: ByteSink, n: number): void {
  if (n >= 0) {
    if (n < 0x80) out.byte(n);
    else if (n <= 0xff) out.u8(0xcc, n);
    else if (n <= 0xffff) out.u16(0xcd, n);
    else if (n <= 0xffffffff) out.u32(0xce, n);
    else out.u64(0xcf, BigInt(n));
  } else if (n >= -32) {
    out.byte(n & 0xff);
  } else if (n >= -0x80) out.i8(0xd0, n);
  else if (n >= -0x8000) out.i16(0xd1, n);
  else if (n >= -0x80000000) out.i32(0xd2, n);
  else out.i64(0xd3, BigInt(n));
}

function writeBigInt(out: ByteSink, n: bigint, path: string): void {
  if (n < INT64_MIN || n > INT64_MAX) {
    throw new UnsupportedValueError(path, `integer ${n} is beyond int64`);
  }
  if (n >= MIN_SAFE && n <= MAX_SAFE) writeSafeInt(out, Number(n));
  else if (n > 0n) out.u64(0xcf, n);
  else out.i64(0xd3, n);
}

function writeString(out: ByteSink, s: string, path: string): void {
  if (!s.isWellFormed()) {
    throw new UnsupportedValueError(
      path,
      'string holds a lone surrogate, so it is not valid UTF-8',
    );
  }
  const n = Buffer.byteLength(s, 'utf8');
  if (n < 32) out.byte(0xa0 | n);
  else if (n <= 0xff) out.u8(0xd9, n);
  else if (n <= 0xffff) out.u16(0xda, n);
  else out.u32(0xdb, n);
  out.utf8(s, n);
}

function writeBin(out: ByteSink, b: Uint8Array): void {
  const n = b.length;
  if (n <= 0xff) out.u8(0xc4, n);
  else if (n <= 0xffff) out.u16(0xc5, n);
  else out.u32(0xc6, n);
  out.raw(b);
}

function writeArrayHeader(out: ByteSink, n: number): void {
  if (n < 16) out.byte(0x90 | n);
  else if (n <= 0xffff) out.u16(0xdc, n);
  else out.u32(0xdd, n);
}

function writeMapHeader(out: ByteSink, n: number): void {
  if (n < 16) out.byte(0x80 | n);
  else if (n <= 0xffff) out.u16(0xde, n);
  else out.u32(0xdf, n);
}

/** What a value outside the table is, for error messages. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined is not a value (use null)';
  if (typeof value === 'function') return 'a function is not a value';
  if (typeof value === 'symbol') return 'a symbol is not a value';
  if (value instanceof Date) return 'a Date is not a value (send a number of ms or a string)';
  if (typeof value === 'object' && value !== null) {
    const name = (value as object).constructor?.name ?? 'object';
    return `an instance of ${name} is not a value (only plain objects, Maps, arrays and Uint8Array)`;
  }
  return `${typeof value} is not a value`;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Appends the canonical MessagePack encoding of `value` to `out`.
 * `path` names the value in errors, e.g. `args[1]`.
 */
export function writeValue(out: ByteSink, value: unknown, path: string, depth = 0): void {
  if (depth > MAX_DEPTH) {
    throw new UnsupportedValueError(path, `nesting deeper than ${MAX_DEPTH}`);
  }
  switch (typeof value) {
    case 'number':
      // -0 is kept a float: as an int it would lose its sign.
      if (Number.isInteger(value) && !Object.is(value, -0)) {
        if (!Number.isSafeInteger(value)) {
          throw new UnsupportedValueError(
            path,
            `integral number ${value} is beyond ±(2^53-1); pass a bigint within int64`,
          );
        }
        writeSafeInt(out, value);
      } else {
        out.f64(value);
      }
      return;
    case 'string':
      writeString(out, value, path);
      return;
    case 'boolean':
      out.byte(value ? 0xc3 : 0xc2);
      return;
    case 'bigint':
      writeBigInt(out, value, path);
      return;
    case 'object':
      break;
    default:
      throw new UnsupportedValueError(path, describe(value));
  }
  if (value === null) {
    out.byte(0xc0);
    return;
  }
  if (Array.isArray(value)) {
    writeArrayHeader(out, value.length);
    for (let i = 0; i < value.length; i++) {
      writeValue(out, value[i], `${path}[${i}]`, depth + 1);
    }
    return;
  }
  if (value instanceof Uint8Array) {
    writeBin(out, value);
    return;
  }
  if (value instanceof Map) {
    writeMapHeader(out, value.size);
    for (const [key, item] of value) {
      if (typeof key !== 'string') {
        throw new UnsupportedValueError(path, `map key ${String(key)} is not a string`);
      }
      writeString(out, key, path);
      writeValue(out, item, `${path}.${key}`, depth + 1);
    }
    return;
  }
  if (isPlainObject(value)) {
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new UnsupportedValueError(path, 'an object with symbol keys is not a map');
    }
    const keys = Object.keys(value);
    writeMapHeader(out, keys.length);
    for (const key of keys) {
      writeString(out, key, path);
      writeValue(out, value[key], `${path}.${key}`, depth + 1);
    }
    return;
  }
  throw new UnsupportedValueError(path, describe(value));
}

/** The canonical MessagePack encoding of `value`; `path` names it in errors. */
export function encodeValue(value: unknown, path = '$'): Uint8Array {
  const out = new ByteSink(64);
  writeValue(out, value, path);
  return out.toBytes();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads one value of the type table from MessagePack bytes. */
class ValueReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get left(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number): number {
    if (n > this.left) {
      throw new MalformedRecordError(
        `undecodable MessagePack: needs ${n} more bytes at offset ${this.pos}`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private u8(): number {
    return this.view.getUint8(this.need(1));
  }

  private u16(): number {
    return this.view.getUint16(this.need(2));
  }

  private u32(): number {
    return this.view.getUint32(this.need(4));
  }

  private string(n: number, path: string): string {
    const at = this.need(n);
    try {
      return utf8.decode(this.bytes.subarray(at, at + n));
    } catch (error) {
      throw new MalformedRecordError(`undecodable MessagePack: invalid UTF-8 string at ${path}`, {
        cause: error,
      });
    }
  }

  private bin(n: number): Uint8Array {
    const at = this.need(n);
    // A copy, and a plain Uint8Array even when the input is a Buffer.
    return new Uint8Array(this.bytes.subarray(at, at + n));
  }

  private int64(value: bigint): number | bigint {
    return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value;
  }

  value(path: string, depth: number): Value {
    if (depth > MAX_DEPTH) {
      throw new UnsupportedValueError(path, `nesting deeper than ${MAX_DEPTH}`);
    }
    const marker = this.u8();
    if (marker <= 0x7f) return marker;
    if (marker >= 0xe0) return marker - 0x100;
    if (marker >= 0xa0 && marker <= 0xbf) return this.string(marker & 0x1f, path);
    if (marker >= 0x90 && marker <= 0x9f) return this.array(marker & 0x0f, path, depth);
    if (marker >= 0x80 && marker <= 0x8f) return this.map(marker & 0x0f, path, depth);
    switch (marker) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        const n = this.view.getBigUint64(this.need(8));
        if (n > INT64_MAX) throw new UnsupportedValueError(path, `integer ${n} is beyond int64`);
        return this.int64(n);
      }
      case 0xd0:
        return this.view.getInt8(this.need(1));
      case 0xd1:
        return this.view.getInt16(this.need(2));
      case 0xd2:
        return this.view.getInt32(this.need(4));
      case 0xd3:
        return this.int64(this.view.getBigInt64(this.need(8)));
      case 0xca:
        return this.view.getFloat32(this.need(4));
      case 0xcb:
        return this.view.getFloat64(this.need(8));
      case 0xd9:
        return this.string(this.u8(), path);
      case 0xda:
        return this.string(this.u16(), path);
      case 0xdb:
        return this.string(this.u32(), path);
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xdc:
        return this.array(this.u16(), path, depth);
      case 0xdd:
        return this.array(this.u32(), path, depth);
      case 0xde:
        return this.map(this.u16(), path, depth);
      case 0xdf:
        return this.map(this.u32(), path, depth);
      case 0xc1:
        throw new MalformedRecordError('undecodable MessagePack: reserved marker 0xc1');
      default:
        // 0xc7..0xc9 and 0xd4..0xd8: the ext types, outside the table.
        throw new UnsupportedValueError(path, 'MessagePack ext type');
    }
  }

  private array(n: number, path: string, depth: number): Value[] {
    // Every element takes at least one byte: a length beyond what is left is a lie.
    if (n > this.left) this.need(n);
    const items: Value[] = new Array<Value>(n);
    for (let i = 0; i < n; i++) items[i] = this.value(`${path}[${i}]`, depth + 1);
    return items;
  }

  private map(n: number, path: string, depth: number): { [key: string]: Value } {
    if (2 * n > this.left) this.need(2 * n);
    const map: { [key: string]: Value } = {};
    for (let i = 0; i < n; i++) {
      const key = this.value(path, depth + 1);
      if (typeof key !== 'string') {
        throw new UnsupportedValueError(path, `map key ${String(key)} is not a string`);
      }
      const item = this.value(`${path}.${key}`, depth + 1);
      // A plain assignment of `__proto__` would set the prototype instead.
      Object.defineProperty(map, key, {
        value: item,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return map;
  }
}

/**
 * Decodes exactly one MessagePack value of the type table that fills
 * `bytes`. Maps become plain objects; ints within ±(2^53-1) become numbers,
 * larger ones bigints. Throws `MalformedRecordError` for bytes that are not
 * MessagePack (truncated, trailing bytes, invalid UTF-8) and
 * `UnsupportedValueError` for MessagePack outside the table (ext types,
 * non-string map keys, ints beyond int64, nesting deeper than 64).
 */
export function decodeValue(bytes: Uint8Array): Value {
  const reader = new ValueReader(bytes);
  const value = reader.value('$', 0);
  if (reader.left > 0) {
    throw new MalformedRecordError(`undecodable MessagePack: ${reader.left} trailing bytes`);
  }
  return value;
}
