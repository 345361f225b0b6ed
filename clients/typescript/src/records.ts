/**
 * The protobuf records of `spec/proto/ardiq/v1/records.proto` that a producer
 * writes or reads: `Job`, `Status` and its nested `Error` and `Progress`.
 *
 * A small codec on protobufjs's `Writer` and `Reader` rather than generated
 * code, so the bytes follow SPEC.md section 1 visibly: fields in number
 * order, proto3 scalars equal to their default omitted, `optional` fields
 * written whenever set (even when zero), unknown fields skipped on read.
 * Field numbers must match the `.proto`; the tests pin the bytes.
 */
import protobuf from 'protobufjs/minimal.js';

import { MalformedRecordError } from './errors.js';

const { Reader, Writer } = protobuf;

/** The version of the spec this client implements (`spec/VERSION`). */
export const SPEC_VERSION = '1.1';

/**
 * A record's `spec_version` when it sets no field added after 1.0: such a
 * record is byte for byte what a 1.0 writer writes (SPEC.md section 12).
 */
export const RECORD_VERSION = '1.0';

/** A record's `spec_version` when it sets a field added in 1.1 (`Job.expires_ms`). */
export const RECORD_VERSION_1_1 = '1.1';

/** The `State` enum of the `.proto`. */
export const State = {
  UNSPECIFIED: 0,
  QUEUED: 1,
  SCHEDULED: 2,
  RUNNING: 3,
  COMPLETE: 4,
  FAILED: 5,
  ABORTED: 6,
  DEAD: 7,
  /** 1.1: not started before its `expires_ms`. */
  EXPIRED: 8,
} as const;

/**
 * A 64-bit integer field. Times and durations fit a `number`; a `bigint`
 * carries the rest of the range, and decoding gives one only beyond ±(2^53-1).
 */
export type Int64 = number | bigint;

/** A `Job` record. Times are ms since the Unix epoch, durations ms. */
export interface JobRecord {
  specVersion: string;
  id: string;
  task: string;
  /** MessagePack array; empty means `[]`. */
  args: Uint8Array;
  /** MessagePack map with str keys; empty means `{}`. */
  kwargs: Uint8Array;
  priority: number;
  enqueuedMs: Int64;
  dueMs: Int64;
  attempt: number;
  maxRetries?: number | undefined;
  timeoutMs?: Int64 | undefined;
  backoffMs?: Int64 | undefined;
  resultTtlMs?: Int64 | undefined;
  /** 1.1: not started by this time, the job is not run and ends EXPIRED. */
  expiresMs?: Int64 | undefined;
  /**
   * Spec 1.1: headers for the worker (such as the W3C trace context), as
   * `[name, value]` pairs; written sorted by name, as SPEC.md section 3.1 asks.
   */
  headers?: ReadonlyArray<readonly [string, string]> | undefined;
}

/** An `Error` record: an exception that crossed the language boundary. */
export interface ErrorRecord {
  type: string;
  message: string;
  traceback: string;
}

/** A `Progress` record (1.1): how far a running job says it is. */
export interface ProgressRecord {
  /** 0.0 ..= 1.0. */
  fraction: number;
  /** At most 1,024 bytes of UTF-8. */
  message: string;
  /** When the task reported it, ms since the Unix epoch. */
  updatedMs: Int64;
}

/** A `Status` record, the value of a job's status key. */
export interface StatusRecord {
  specVersion: string;
  state: number;
  /** MessagePack return value (COMPLETE only). */
  value: Uint8Array;
  error?: ErrorRecord | undefined;
  attempts: number;
  enqueuedMs: Int64;
  startedMs: Int64;
  finishedMs: Int64;
  workerId: string;
  task: string;
  /** 1.1: the last progress the run reported. */
  progress?: ProgressRecord | undefined;
}

// Wire types of the protobuf encoding.
const VARINT = 0;
const I64 = 1;
const LEN = 2;

function key(field: number, wire: number): number {
  return (field << 3) | wire;
}

type ProtoWriter = protobuf.Writer;
type ProtoReader = protobuf.Reader;

function writeString(w: ProtoWriter, field: number, s: string): void {
  if (s !== '') w.uint32(key(field, LEN)).string(s);
}

function writeBytes(w: ProtoWriter, field: number, b: Uint8Array): void {
  if (b.length > 0) w.uint32(key(field, LEN)).bytes(b);
}

function writeUint32(w: ProtoWriter, field: number, n: number): void {
  if (n !== 0) w.uint32(key(field, VARINT)).uint32(n);
}

/** protobufjs takes 64-bit values as numbers or decimal strings. */
function long(n: Int64): number | string {
  return typeof n === 'bigint' ? n.toString() : n;
}

function writeInt64(w: ProtoWriter, field: number, n: Int64): void {
  if (n !== 0 && n !== 0n) w.uint32(key(field, VARINT)).int64(long(n));
}

function writeOptionalUint32(w: ProtoWriter, field: number, n: number | undefined): void {
  if (n !== undefined) w.uint32(key(field, VARINT)).uint32(n);
}

function writeOptionalInt64(w: ProtoWriter, field: number, n: Int64 | undefined): void {
  if (n !== undefined) w.uint32(key(field, VARINT)).int64(long(n));
}

function writeDouble(w: ProtoWriter, field: number, x: number): void {
  // A proto3 double is omitted when its bits are the default's: -0 is written,
  // as protobuf's own runtimes (C++, Python) do.
  if (!Object.is(x, 0)) w.uint32(key(field, I64)).double(x);
}

function writeOptionalUint64(w: ProtoWriter, field: number, n: Int64 | undefined): void {
  if (n !== undefined) w.uint32(key(field, VARINT)).uint64(long(n));
}

/** The protobuf bytes of a `Job` record. */
export function encodeJob(job: JobRecord): Uint8Array {
  const w = Writer.create();
  writeString(w, 1, job.specVersion);
  writeString(w, 2, job.id);
  writeString(w, 3, job.task);
  writeBytes(w, 4, job.args);
  writeBytes(w, 5, job.kwargs);
  writeUint32(w, 6, job.priority);
  writeInt64(w, 7, job.enqueuedMs);
  writeInt64(w, 8, job.dueMs);
  writeUint32(w, 9, job.attempt);
  writeOptionalUint32(w, 10, job.maxRetries);
  writeOptionalUint64(w, 11, job.timeoutMs);
  writeOptionalUint64(w, 12, job.backoffMs);
  writeOptionalUint64(w, 13, job.resultTtlMs);
  writeOptionalInt64(w, 14, job.expiresMs);
  for (const [name, value] of sortedHeaders(job.headers ?? [])) {
    // A map entry: a nested message with the key (field 1) and the value (field 2).
    w.uint32(key(15, LEN)).fork();
    w.uint32(key(1, LEN)).string(name);
    w.uint32(key(2, LEN)).string(value);
    w.ldelim();
  }
  return w.finish();
}

/** Headers sorted by the bytes of their names' UTF-8 (not by UTF-16 code units). */
function sortedHeaders(
  headers: ReadonlyArray<readonly [string, string]>,
): Array<readonly [string, string]> {
  return [...headers].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function encodeError(w: ProtoWriter, error: ErrorRecord): void {
  writeString(w, 1, error.type);
  writeString(w, 2, error.message);
  writeString(w, 3, error.traceback);
}

/** The protobuf bytes of a `Status` record. */
export function encodeStatus(status: StatusRecord): Uint8Array {
  const w = Writer.create();
  writeString(w, 1, status.specVersion);
  writeUint32(w, 2, status.state);
  writeBytes(w, 3, status.value);
  if (status.error !== undefined) {
    // A message field is present whenever set, even when all its fields are empty.
    w.uint32(key(4, LEN)).fork();
    encodeError(w, status.error);
    w.ldelim();
  }
  writeUint32(w, 5, status.attempts);
  writeInt64(w, 6, status.enqueuedMs);
  writeInt64(w, 7, status.startedMs);
  writeInt64(w, 8, status.finishedMs);
  writeString(w, 9, status.workerId);
  writeString(w, 10, status.task);
  if (status.progress !== undefined) {
    w.uint32(key(11, LEN)).fork();
    writeDouble(w, 1, status.progress.fraction);
    writeString(w, 2, status.progress.message);
    writeInt64(w, 3, status.progress.updatedMs);
    w.ldelim();
  }
  return w.finish();
}

/** A 64-bit field: a number when it holds the value exactly, else a bigint. */
function toInt64(value: protobuf.Long | number, unsigned = false): Int64 {
  if (typeof value === 'number') return value;
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  const n = unsigned ? bits : BigInt.asIntN(64, bits);
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Runs `read` over every field of the message in `bytes`, turning reader errors into ours. */
function readFields(
  bytes: Uint8Array,
  message: string,
  read: (r: ProtoReader, field: number, wire: number) => boolean,
): void {
  const r = Reader.create(bytes);
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (!read(r, field, wire)) r.skipType(wire);
    }
  } catch (error) {
    if (error instanceof MalformedRecordError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new MalformedRecordError(`undecodable ${message} record: ${detail}`, { cause: error });
  }
}

function expectWire(message: string, field: number, wire: number, want: number): void {
  if (wire !== want) {
    throw new MalformedRecordError(`${message} field ${field} has wire type ${wire}, not ${want}`);
  }
}

/** Decodes a `Job` record, ignoring unknown fields. */
export function decodeJob(bytes: Uint8Array): JobRecord {
  const job: JobRecord = {
    specVersion: '',
    id: '',
    task: '',
    args: new Uint8Array(0),
    kwargs: new Uint8Array(0),
    priority: 0,
    enqueuedMs: 0,
    dueMs: 0,
    attempt: 0,
  };
  readFields(bytes, 'Job', (r, field, wire) => {
    if (field === 15) {
      expectWire('Job', field, wire, LEN);
      const entry = { name: '', value: '' };
      readFields(r.bytes(), 'Job.headers entry', (e, number, entryWire) => {
        if (number !== 1 && number !== 2) return false;
        expectWire('Job.headers entry', number, entryWire, LEN);
        if (number === 1) entry.name = e.string();
        else entry.value = e.string();
        return true;
      });
      job.headers = [
        ...(job.headers ?? []).filter(([n]) => n !== entry.name),
        [entry.name, entry.value],
      ];
      return true;
    }
    if (field < 1 || field > 14) return false;
    expectWire('Job', field, wire, field <= 5 ? LEN : VARINT);
    switch (field) {
      case 1:
        job.specVersion = r.string();
        break;
      case 2:
        job.id = r.string();
        break;
      case 3:
        job.task = r.string();
        break;
      case 4:
        job.args = r.bytes();
        break;
      case 5:
        job.kwargs = r.bytes();
        break;
      case 6:
        job.priority = r.uint32();
        break;
      case 7:
        job.enqueuedMs = toInt64(r.int64());
        break;
      case 8:
        job.dueMs = toInt64(r.int64());
        break;
      case 9:
        job.attempt = r.uint32();
        break;
      case 10:
        job.maxRetries = r.uint32();
        break;
      case 11:
        job.timeoutMs = toInt64(r.uint64(), true);
        break;
      case 12:
        job.backoffMs = toInt64(r.uint64(), true);
        break;
      case 13:
        job.resultTtlMs = toInt64(r.uint64(), true);
        break;
      case 14:
        job.expiresMs = toInt64(r.int64());
        break;
    }
    return true;
  });
  return job;
}

function decodeError(bytes: Uint8Array): ErrorRecord {
  const error: ErrorRecord = { type: '', message: '', traceback: '' };
  readFields(bytes, 'Error', (r, field, wire) => {
    if (field < 1 || field > 3) return false;
    expectWire('Error', field, wire, LEN);
    const text = r.string();
    if (field === 1) error.type = text;
    else if (field === 2) error.message = text;
    else error.traceback = text;
    return true;
  });
  return error;
}

function decodeProgress(bytes: Uint8Array): ProgressRecord {
  const progress: ProgressRecord = { fraction: 0, message: '', updatedMs: 0 };
  readFields(bytes, 'Progress', (r, field, wire) => {
    if (field < 1 || field > 3) return false;
    expectWire('Progress', field, wire, field === 1 ? I64 : field === 2 ? LEN : VARINT);
    if (field === 1) progress.fraction = r.double();
    else if (field === 2) progress.message = r.string();
    else progress.updatedMs = toInt64(r.int64());
    return true;
  });
  return progress;
}

/** Decodes a `Status` record, ignoring unknown fields. */
export function decodeStatus(bytes: Uint8Array): StatusRecord {
  const status: StatusRecord = {
    specVersion: '',
    state: State.UNSPECIFIED,
    value: new Uint8Array(0),
    attempts: 0,
    enqueuedMs: 0,
    startedMs: 0,
    finishedMs: 0,
    workerId: '',
    task: '',
  };
  readFields(bytes, 'Status', (r, field, wire) => {
    if (field < 1 || field > 11) return false;
    const lengthDelimited = field === 1 || field === 3 || field === 4 || field >= 9;
    expectWire('Status', field, wire, lengthDelimited ? LEN : VARINT);
    switch (field) {
      case 1:
        status.specVersion = r.string();
        break;
      case 2:
        status.state = r.int32();
        break;
      case 3:
        status.value = r.bytes();
        break;
      case 4:
        status.error = decodeError(r.bytes());
        break;
      case 5:
        status.attempts = r.uint32();
        break;
      case 6:
        status.enqueuedMs = toInt64(r.int64());
        break;
      case 7:
        status.startedMs = toInt64(r.int64());
        break;
      case 8:
        status.finishedMs = toInt64(r.int64());
        break;
      case 9:
        status.workerId = r.string();
        break;
      case 10:
        status.task = r.string();
        break;
      case 11:
        status.progress = decodeProgress(r.bytes());
        break;
    }
    return true;
  });
  return status;
}

/** How one field of a record decodes: its name and its kind. */
type FieldKind = 'string' | 'bytes' | 'uint32' | 'int64' | 'uint64' | 'error' | 'strings';

/**
 * Decodes a record whose fields are listed in `fields` (by number); unknown
 * fields are skipped. The records operators read (`Heartbeat`,
 * `DeadLetter`, `Failure`) have no optional scalars, so absent fields are
 * their defaults.
 */
function decodeRecord<T>(
  bytes: Uint8Array,
  message: string,
  fields: Record<number, readonly [keyof T & string, FieldKind]>,
  record: T,
): T {
  const out = record as Record<string, unknown>;
  readFields(bytes, message, (r, field, wire) => {
    const spec = fields[field];
    if (spec === undefined) return false;
    const [name, kind] = spec;
    const varint = kind === 'uint32' || kind === 'int64' || kind === 'uint64';
    expectWire(message, field, wire, varint ? VARINT : LEN);
    if (kind === 'string') out[name] = r.string();
    else if (kind === 'bytes') out[name] = r.bytes();
    else if (kind === 'uint32') out[name] = r.uint32();
    else if (kind === 'int64') out[name] = toInt64(r.int64());
    else if (kind === 'uint64') out[name] = toInt64(r.uint64(), true);
    else if (kind === 'error') out[name] = decodeError(r.bytes());
    else out[name] = [...((out[name] as string[] | undefined) ?? []), r.string()];
    return true;
  });
  return record;
}

/** A worker's `Heartbeat` record. */
export interface HeartbeatRecord {
  specVersion: string;
  workerId: string;
  hostname: string;
  pid: number;
  startedMs: Int64;
  seenMs: Int64;
  concurrency: number;
  running: number;
  completed: Int64;
  failed: Int64;
  queues: string[];
}

/** Decodes a `Heartbeat` record. */
export function decodeHeartbeat(bytes: Uint8Array): HeartbeatRecord {
  return decodeRecord<HeartbeatRecord>(
    bytes,
    'Heartbeat',
    {
      1: ['specVersion', 'string'],
      2: ['workerId', 'string'],
      3: ['hostname', 'string'],
      4: ['pid', 'uint32'],
      5: ['startedMs', 'int64'],
      6: ['seenMs', 'int64'],
      7: ['concurrency', 'uint32'],
      8: ['running', 'uint32'],
      9: ['completed', 'uint64'],
      10: ['failed', 'uint64'],
      11: ['queues', 'strings'],
    },
    {
      specVersion: '',
      workerId: '',
      hostname: '',
      pid: 0,
      startedMs: 0,
      seenMs: 0,
      concurrency: 0,
      running: 0,
      completed: 0,
      failed: 0,
      queues: [],
    },
  );
}

/** A `DeadLetter` record, or (spec 1.1) a `Failure`: a job that must not or did not run. */
export interface EndedRecord {
  specVersion: string;
  jobId: string;
  task: string;
  /** The raw `Job` record. */
  job: Uint8Array;
  error?: ErrorRecord | undefined;
  workerId: string;
  /** When it died or failed for good, ms. */
  atMs: Int64;
  /** Dead letters: the reason code and its detail. */
  reason: string;
  detail: string;
  /** Kept failures: runs started, including the last. */
  attempts: number;
}

function ended(): EndedRecord {
  const record: EndedRecord = {
    specVersion: '',
    jobId: '',
    task: '',
    job: new Uint8Array(0),
    workerId: '',
    atMs: 0,
    reason: '',
    detail: '',
    attempts: 0,
  };
  return record;
}

/** Decodes a `DeadLetter` record. */
export function decodeDeadLetter(bytes: Uint8Array): EndedRecord {
  return decodeRecord<EndedRecord>(
    bytes,
    'DeadLetter',
    {
      1: ['specVersion', 'string'],
      2: ['jobId', 'string'],
      3: ['task', 'string'],
      4: ['reason', 'string'],
      5: ['detail', 'string'],
      6: ['job', 'bytes'],
      8: ['atMs', 'int64'],
      9: ['workerId', 'string'],
      10: ['error', 'error'],
    },
    ended(),
  );
}

/** Decodes a `Failure` record (spec 1.1, SPEC.md section 9.1). */
export function decodeFailure(bytes: Uint8Array): EndedRecord {
  return decodeRecord<EndedRecord>(
    bytes,
    'Failure',
    {
      1: ['specVersion', 'string'],
      2: ['jobId', 'string'],
      3: ['task', 'string'],
      4: ['job', 'bytes'],
      5: ['error', 'error'],
      6: ['attempts', 'uint32'],
      8: ['atMs', 'int64'],
      9: ['workerId', 'string'],
    },
    ended(),
  );
}
