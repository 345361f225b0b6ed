import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  MalformedRecordError,
  State,
  decodeJob,
  decodeStatus,
  encodeJob,
  encodeStatus,
} from '../dist/index.js';
import { hex } from './support.mjs';

const bytes = (text) => new Uint8Array(Buffer.from(text, 'hex'));
const EMPTY = new Uint8Array(0);

function status(fields) {
  return {
    specVersion: '1.0',
    state: State.UNSPECIFIED,
    value: EMPTY,
    attempts: 0,
    enqueuedMs: 0,
    startedMs: 0,
    finishedMs: 0,
    workerId: '',
    task: '',
    ...fields,
  };
}

function job(fields) {
  return {
    specVersion: '1.0',
    id: '',
    task: '',
    args: EMPTY,
    kwargs: EMPTY,
    priority: 0,
    enqueuedMs: 0,
    dueMs: 0,
    attempt: 0,
    ...fields,
  };
}

describe('Status records', () => {
  test('the constants of SPEC.md section 6', () => {
    assert.equal(hex(encodeStatus(status({ state: State.QUEUED }))), '0a03312e301001');
    assert.equal(hex(encodeStatus(status({ state: State.SCHEDULED }))), '0a03312e301002');
  });

  test('the aborted-before-it-ran record, field by field', () => {
    const record = status({
      state: State.ABORTED,
      error: { type: 'JobAborted', message: 'aborted before it ran', traceback: '' },
      finishedMs: 1700000000000,
    });
    // 0a 03 "1.0" | 10 06 | 22 23 (0a 0a "JobAborted" 12 15 "aborted before it ran") | 40 varint(ms)
    const expected =
      '0a03312e30' +
      '1006' +
      '2223' +
      '0a0a' +
      hex(Buffer.from('JobAborted')) +
      '1215' +
      hex(Buffer.from('aborted before it ran')) +
      '4080d095ffbc31';
    assert.equal(hex(encodeStatus(record)), expected);
  });

  test('decoding a terminal record reads every field', () => {
    const record = status({
      state: State.FAILED,
      value: EMPTY,
      error: { type: 'ValueError', message: 'bad', traceback: 'Traceback...' },
      attempts: 3,
      enqueuedMs: 1700000000000,
      startedMs: 1700000000001,
      finishedMs: 1700000000002,
      workerId: 'w-1',
      task: 'fail',
    });
    assert.deepEqual(decodeStatus(encodeStatus(record)), record);
  });

  test('a RUNNING record with its progress (1.1), as protoc writes it', () => {
    const record = status({
      specVersion: '1.1',
      state: State.RUNNING,
      attempts: 1,
      startedMs: 1700000000001,
      workerId: 'w-1',
      task: 't',
      progress: { fraction: 0.5, message: 'half', updatedMs: 1700000000002 },
    });
    // ... | 5a 16 (09 <0.5 as a little-endian double> 12 04 "half" 18 varint(ms))
    const expected =
      '0a03312e31100328013881d095ffbc314a03772d31520174' +
      '5a16' +
      '09000000000000e03f' +
      '120468616c66' +
      '1882d095ffbc31';
    assert.equal(hex(encodeStatus(record)), expected);
    assert.deepEqual(decodeStatus(bytes(expected)), record);
  });

  test('a progress with every field at its default is still written, and read back', () => {
    const record = status({ progress: { fraction: 0, message: '', updatedMs: 0 } });
    assert.equal(hex(encodeStatus(record)), '0a03312e305a00');
    assert.deepEqual(decodeStatus(bytes('5a00')).progress, {
      fraction: 0,
      message: '',
      updatedMs: 0,
    });
    // -0 is not the default's bits: protoc's runtimes write it.
    const negativeZero = status({ progress: { fraction: -0, message: '', updatedMs: 0 } });
    assert.equal(hex(encodeStatus(negativeZero)), '0a03312e305a09090000000000000080');
  });

  test('an EXPIRED record (1.1) reads its state and error', () => {
    const record = status({
      specVersion: '1.1',
      state: State.EXPIRED,
      error: { type: 'JobExpired', message: 'not started before its expiry at 5', traceback: '' },
    });
    assert.equal(State.EXPIRED, 8);
    assert.deepEqual(decodeStatus(encodeStatus(record)), record);
  });

  test('a progress field that is not a message is MalformedRecordError', () => {
    // Field 11 sent as a varint.
    assert.throws(() => decodeStatus(bytes('5801')), MalformedRecordError);
    // Progress field 1 (fraction) sent as a varint.
    assert.throws(() => decodeStatus(bytes('5a020801')), MalformedRecordError);
  });

  test('unknown fields are skipped', () => {
    // Field 99 (varint) after QUEUED.
    assert.deepEqual(decodeStatus(bytes('0a03312e301001980601')), status({ state: State.QUEUED }));
  });

  test('bytes that are not a record are MalformedRecordError', () => {
    assert.throws(() => decodeStatus(bytes('0f')), MalformedRecordError);
    assert.throws(() => decodeStatus(bytes('0a0331')), MalformedRecordError);
    // Field 2 (state) sent length-delimited.
    assert.throws(() => decodeStatus(bytes('1201')), MalformedRecordError);
  });
});

describe('Job records', () => {
  test('fields in number order, defaults omitted', () => {
    const record = job({
      id: 'j1',
      task: 'add',
      args: bytes('920102'),
      priority: 5,
      enqueuedMs: 1700000000000,
    });
    assert.equal(
      hex(encodeJob(record)),
      '0a03312e30' + '12026a31' + '1a03616464' + '2203920102' + '3005' + '3880d095ffbc31',
    );
  });

  test('optional fields are written when set, even to zero', () => {
    const record = job({
      id: 'j',
      task: 't',
      maxRetries: 0,
      timeoutMs: 0,
      backoffMs: 0,
      resultTtlMs: 0,
    });
    assert.equal(
      hex(encodeJob(record)),
      '0a03312e3012016a1a0174' + '5000' + '5800' + '6000' + '6800',
    );
  });

  test('optional fields left unset are not written', () => {
    assert.equal(hex(encodeJob(job({ id: 'j', task: 't' }))), '0a03312e3012016a1a0174');
  });

  test('expires_ms (1.1) is field 14, written when set, as protoc writes it', () => {
    const record = job({ specVersion: '1.1', id: 'j', task: 't', expiresMs: 1700000000000 });
    assert.equal(hex(encodeJob(record)), '0a03312e3112016a1a0174' + '7080d095ffbc31');
    assert.deepEqual(decodeJob(encodeJob(record)), record);
    assert.equal(decodeJob(encodeJob(job({ id: 'j' }))).expiresMs, undefined);
  });

  test('64-bit fields take bigints and give them back beyond ±(2^53-1)', () => {
    const record = job({
      id: 'j',
      task: 't',
      enqueuedMs: 2n ** 63n - 1n,
      dueMs: -5,
      timeoutMs: 2n ** 64n - 1n,
    });
    const encoded = encodeJob(record);
    assert.ok(hex(encoded).includes('38ffffffffffffffff7f'));
    assert.ok(hex(encoded).includes('58ffffffffffffffffff01'));
    assert.deepEqual(decodeJob(encoded), record);
  });
});
