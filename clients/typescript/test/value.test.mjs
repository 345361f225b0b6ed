import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { decode as referenceDecode, encode as referenceEncode } from '@msgpack/msgpack';

import {
  MalformedRecordError,
  UnsupportedValueError,
  decodeValue,
  encodeValue,
} from '../dist/index.js';
import { hex } from './support.mjs';

const enc = (value) => hex(encodeValue(value));
const bytes = (text) => new Uint8Array(Buffer.from(text, 'hex'));

describe('encodeValue writes canonical MessagePack', () => {
  test('integers use the smallest format, positive formats for non-negative values', () => {
    const cases = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65535, 'cdffff'],
      [65536, 'ce00010000'],
      [4294967295, 'ceffffffff'],
      [4294967296, 'cf0000000100000000'],
      [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0df'],
      [-128, 'd080'],
      [-129, 'd1ff7f'],
      [-32768, 'd18000'],
      [-32769, 'd2ffff7fff'],
      [-2147483648, 'd280000000'],
      [-2147483649, 'd3ffffffff7fffffff'],
    ];
    for (const [value, expected] of cases) assert.equal(enc(value), expected, `${value}`);
  });

  test('bigints within int64 use the same smallest formats as numbers', () => {
    assert.equal(enc(5n), '05');
    assert.equal(enc(-200n), 'd1ff38');
    assert.equal(enc(2n ** 63n - 1n), 'cf7fffffffffffffff');
    assert.equal(enc(-(2n ** 63n)), 'd38000000000000000');
  });

  test('non-integral numbers are always float 64, never float 32', () => {
    assert.equal(enc(1.5), 'cb3ff8000000000000');
    assert.equal(enc(0.1), 'cb3fb999999999999a');
    assert.equal(enc(NaN), 'cb7ff8000000000000');
    assert.equal(enc(Infinity), 'cb7ff0000000000000');
    assert.equal(enc(-Infinity), 'cbfff0000000000000');
  });

  test('an integral number is an int, so 1.0 is sent as 1', () => {
    assert.equal(enc(1.0), '01');
  });

  test('negative zero stays a float so it keeps its sign', () => {
    assert.equal(enc(-0), 'cb8000000000000000');
  });

  test('strings and bytes use the smallest format', () => {
    assert.equal(enc(''), 'a0');
    assert.equal(enc('żółw'), 'a7c5bcc3b3c58277');
    assert.equal(enc('a'.repeat(31)), 'bf' + '61'.repeat(31));
    assert.equal(enc('b'.repeat(32)), 'd920' + '62'.repeat(32));
    assert.equal(enc('c'.repeat(256)), 'da0100' + '63'.repeat(256));
    assert.equal(enc('d'.repeat(65536)), 'db00010000' + '64'.repeat(65536));
    assert.equal(enc(new Uint8Array([0, 255])), 'c40200ff');
    assert.equal(enc(new Uint8Array(256)), 'c50100' + '00'.repeat(256));
    assert.equal(enc(new Uint8Array(65536)), 'c600010000' + '00'.repeat(65536));
  });

  test('nil, booleans, arrays and maps in insertion order', () => {
    assert.equal(enc(null), 'c0');
    assert.equal(enc(true), 'c3');
    assert.equal(enc(false), 'c2');
    assert.equal(enc([]), '90');
    assert.equal(enc({ b: 1, a: 2 }), '82a16201a16102');
    assert.equal(
      enc(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
      '82a16201a16102',
    );
    assert.equal(enc(Array.from({ length: 16 }, () => 0)), 'dc0010' + '00'.repeat(16));
    const wide = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${i}`.padEnd(3, '_'), 0]),
    );
    assert.ok(enc(wide).startsWith('de0010'));
  });

  test('an object with a null prototype is a map', () => {
    const map = Object.create(null);
    map.x = 1;
    assert.equal(enc(map), '81a17801');
  });

  test('an independent decoder reads back what was encoded', () => {
    const value = { a: [null, true, -5, 1.25, 'x', new Uint8Array([1, 2])], b: { c: 300000 } };
    assert.deepEqual(referenceDecode(encodeValue(value)), value);
  });

  test('nesting of 64 levels is accepted', () => {
    let value = [];
    for (let i = 0; i < 64; i++) value = [value];
    assert.equal(enc(value).length, 2 * 65);
  });
});

describe('encodeValue rejects values outside the type table with their path', () => {
  const rejects = (value, path) => {
    assert.throws(
      () => encodeValue(value, 'args'),
      (error) => error instanceof UnsupportedValueError && error.path === path,
    );
  };

  test('undefined, functions and symbols', () => {
    rejects([1, { when: undefined }], 'args[1].when');
    rejects([() => 1], 'args[0]');
    rejects([Symbol('s')], 'args[0]');
  });

  test('class instances, Dates, Sets and other typed arrays', () => {
    class Point {
      x = 1;
    }
    rejects([new Point()], 'args[0]');
    rejects([{ at: new Date(0) }], 'args[0].at');
    rejects([new Set([1])], 'args[0]');
    rejects([new Uint16Array(2)], 'args[0]');
  });

  test('map keys that are not strings, and objects with symbol keys', () => {
    rejects(new Map([[1, 'one']]), 'args');
    rejects({ [Symbol('k')]: 1 }, 'args');
  });

  test('bigints beyond int64 and integral numbers beyond ±(2^53-1)', () => {
    rejects([2n ** 63n], 'args[0]');
    rejects([-(2n ** 63n) - 1n], 'args[0]');
    rejects([2 ** 60], 'args[0]');
  });

  test('strings with a lone surrogate, which have no UTF-8 form', () => {
    rejects(['\ud800'], 'args[0]');
  });

  test('nesting deeper than 64 levels, cycles included', () => {
    let value = [];
    for (let i = 0; i < 65; i++) value = [value];
    assert.throws(() => encodeValue(value), UnsupportedValueError);
    const cycle = [];
    cycle.push(cycle);
    assert.throws(() => encodeValue(cycle), UnsupportedValueError);
  });

  test('the message names the path', () => {
    assert.throws(() => encodeValue([0, { when: new Date(0) }], 'args'), /args\[1\]\.when/);
  });
});

describe('decodeValue', () => {
  test('reads every type of the table', () => {
    assert.deepEqual(decodeValue(bytes('96c0c3ffcb3fe0000000000000a178c40101')), [
      null,
      true,
      -1,
      0.5,
      'x',
      new Uint8Array([1]),
    ]);
    assert.deepEqual(decodeValue(bytes('82a16201a16102')), { b: 1, a: 2 });
    assert.deepEqual(Object.keys(/** @type {object} */ (decodeValue(bytes('82a16201a16102')))), [
      'b',
      'a',
    ]);
  });

  test('ints within ±(2^53-1) are numbers, larger ones bigints', () => {
    assert.equal(decodeValue(bytes('cf001fffffffffffff')), Number.MAX_SAFE_INTEGER);
    assert.equal(decodeValue(bytes('cf0020000000000000')), 2n ** 53n);
    assert.equal(decodeValue(bytes('d38000000000000000')), -(2n ** 63n));
    assert.equal(decodeValue(bytes('d3ffffffff7fffffff')), -2147483649);
  });

  test('a float 32 is widened', () => {
    assert.equal(decodeValue(bytes('ca3fc00000')), 1.5);
  });

  test('a __proto__ key is an ordinary key', () => {
    const value = /** @type {object} */ (decodeValue(bytes('81a95f5f70726f746f5f5f01')));
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ['__proto__']);
  });

  test('MessagePack outside the table is UnsupportedValueError', () => {
    for (const text of ['d40100', 'd6ff00000000', '810102', 'cf8000000000000000']) {
      assert.throws(() => decodeValue(bytes(text)), UnsupportedValueError, text);
    }
  });

  test('bytes that are not MessagePack are MalformedRecordError', () => {
    for (const text of ['', '9201', 'a36162', 'ce0001', '0102', 'c1', 'a1ff', 'dd7fffffff']) {
      assert.throws(() => decodeValue(bytes(text)), MalformedRecordError, text);
    }
  });

  test('round-trips what encodeValue writes', () => {
    const value = { n: [0, -1, 2 ** 40, -(2 ** 40), 1.5, 'żółw'], raw: new Uint8Array([9]) };
    assert.deepEqual(decodeValue(encodeValue(value)), value);
  });
});

describe("the vectors value.ts's header names, which @msgpack/msgpack gets wrong", () => {
  const vectorsFile = new URL('../../../conformance/vectors/v1/values.json', import.meta.url);
  const vectors = new Map(
    JSON.parse(readFileSync(vectorsFile, 'utf8')).cases.map((vector) => [vector.name, vector]),
  );
  const vector = (name) => {
    const found = vectors.get(name);
    assert.ok(found, `no vector ${name}`);
    return found;
  };
  // The typed JSON of these vectors (conformance/PROTOCOL.md), as values.
  const native = (typed) => {
    const [[kind, v]] = Object.entries(typed);
    if (kind === 'int') return Number(v);
    if (kind === 'float') return v === '-0' ? -0 : v;
    if (kind === 'array') return v.map(native);
    if (kind === 'unsupported' && v === 'datetime') return new Date(0);
    if (kind === 'unsupported' && v === 'undefined') return undefined;
    throw new Error(`no native value for ${JSON.stringify(typed)}`);
  };
  const reference = (value) => hex(referenceEncode(value, { useBigInt64: true }));

  test('its encoder writes other bytes than the vector, or bytes where the vector is an error', () => {
    for (const name of [
      'values.float.negative_zero',
      'values.int.uint64_min',
      'values.invalid.datetime',
      'values.invalid.undefined',
      'values.invalid.depth_65',
    ]) {
      const { value, hex: expected, error } = vector(name);
      const given = native(value);
      if (error === undefined) {
        assert.equal(enc(given), expected, name);
        assert.notEqual(reference(given), expected, name);
      } else {
        assert.throws(() => encodeValue(given), UnsupportedValueError, name);
        assert.doesNotThrow(() => reference(given), name);
      }
    }
  });

  test('its decoder reads what the vector rejects', () => {
    for (const name of [
      'values.undecodable.invalid_utf8',
      'values.undecodable.ext_fixext1',
      'values.undecodable.int_key',
      'values.undecodable.uint64_over_int64',
    ]) {
      const { hex: text, error } = vector(name);
      const expected = error === 'MalformedRecord' ? MalformedRecordError : UnsupportedValueError;
      assert.throws(() => decodeValue(bytes(text)), expected, name);
      assert.doesNotThrow(() => referenceDecode(bytes(text), { useBigInt64: true }), name);
    }
  });
});
