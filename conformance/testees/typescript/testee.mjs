// The TypeScript client's conformance testee (conformance/PROTOCOL.md): reads
// one JSON request per line on stdin, answers one JSON response per line on
// stdout, in order, through the built package in clients/typescript/dist.
import { createInterface } from 'node:readline';

import {
  ArdiqError,
  JobFailedError,
  buildEnqueue,
  createClient,
  decodeJob,
  decodeStatus,
  decodeValue,
  encodeJob,
  encodeStatus,
  encodeValue,
} from '../../../clients/typescript/dist/index.js';

/** The case needs a value TypeScript cannot hold; the runner reads it as `skipped`. */
class Inexpressible extends Error {}

/** A request the testee does not understand. */
class BadRequest extends Error {}

const hexOf = (bytes) => Buffer.from(bytes).toString('hex');
const bytesOf = (hex) => new Uint8Array(Buffer.from(hex, 'hex'));

function intOf(text) {
  const n = BigInt(text);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n;
}

function floatOf(raw) {
  if (raw === '-NaN') {
    // A NaN with its sign bit set, as a foreign value could carry it.
    const bits = new DataView(new ArrayBuffer(8));
    bits.setBigUint64(0, 0xfff8000000000000n);
    return bits.getFloat64(0);
  }
  const x = typeof raw === 'string' ? (raw === '-0' ? -0 : Number(raw)) : raw;
  // TypeScript has one number type: an integral float is an int (SPEC.md section 4).
  if (Number.isInteger(x) && !Object.is(x, -0)) {
    throw new Inexpressible(`float ${raw} is integral, so TypeScript sends it as an int`);
  }
  return x;
}

/** Typed JSON to the native value the client takes. */
function toNative(typed) {
  const [kind] = Object.keys(typed);
  const v = typed[kind];
  switch (kind) {
    case 'nil':
      return null;
    case 'bool':
      return v;
    case 'int':
      return intOf(v);
    case 'float':
      return floatOf(v);
    case 'str':
      return v;
    case 'bytes':
      return bytesOf(v);
    case 'array':
      return v.map(toNative);
    case 'map':
      // A Map keeps insertion order even for keys that look like integers.
      return new Map(v.map(([key, item]) => [key, toNative(item)]));
    case 'unsupported':
      return unsupported(v);
    case 'fill':
      // The vectors' shorthand for large payloads: `unit` repeated `count` times.
      return toNative({ [v.kind]: v.unit.repeat(v.count) });
    default:
      throw new BadRequest(`unknown typed value ${JSON.stringify(typed)}`);
  }
}

function unsupported(kind) {
  switch (kind) {
    case 'set':
      return new Set([1]);
    case 'datetime':
      return new Date(0);
    case 'int_too_large':
      return 2n ** 63n;
    case 'non_str_key':
      return new Map([[1, 'one']]);
    case 'undefined':
      return undefined;
    case 'function':
      return () => 1;
    default:
      throw new BadRequest(`unknown unsupported kind ${kind}`);
  }
}

/** A decoded value to typed JSON. */
function toTyped(value) {
  if (value === null) return { nil: null };
  switch (typeof value) {
    case 'boolean':
      return { bool: value };
    case 'bigint':
      return { int: value.toString() };
    case 'number':
      if (Number.isInteger(value) && !Object.is(value, -0)) return { int: String(value) };
      if (Number.isNaN(value)) return { float: 'NaN' };
      if (!Number.isFinite(value)) return { float: value > 0 ? 'Infinity' : '-Infinity' };
      return { float: Object.is(value, -0) ? '-0' : value };
    case 'string':
      return { str: value };
    default:
      break;
  }
  if (value instanceof Uint8Array) return { bytes: hexOf(value) };
  if (Array.isArray(value)) return { array: value.map(toTyped) };
  return { map: Object.entries(value).map(([key, item]) => [key, toTyped(item)]) };
}

const OPTION_NAMES = {
  priority: 'priority',
  delay_ms: 'delayMs',
  schedule_ms: 'scheduleAt',
  job_id: 'jobId',
  max_retries: 'maxRetries',
  timeout_ms: 'timeoutMs',
  backoff_ms: 'backoffMs',
  result_ttl_ms: 'resultTtlMs',
  expires_ms: 'expiresMs',
};

function toOptions(options = {}, kwargs = []) {
  const out = {};
  for (const [name, value] of Object.entries(options)) {
    if (name === 'headers') {
      // 1.1: [name, value] pairs; a Map keeps the last value of a name given again.
      out.headers = new Map(value);
      continue;
    }
    const camel = OPTION_NAMES[name];
    if (camel === undefined) throw new BadRequest(`unknown option ${name}`);
    out[camel] = typeof value === 'string' && name !== 'job_id' ? intOf(value) : value;
  }
  if (kwargs.length > 0) out.kwargs = toNative({ map: kwargs });
  return out;
}

// Record fields: proto name, camelCase name, kind.
const JOB_FIELDS = [
  ['spec_version', 'specVersion', 'string'],
  ['id', 'id', 'string'],
  ['task', 'task', 'string'],
  ['args', 'args', 'bytes'],
  ['kwargs', 'kwargs', 'bytes'],
  ['priority', 'priority', 'uint32'],
  ['enqueued_ms', 'enqueuedMs', 'int64'],
  ['due_ms', 'dueMs', 'int64'],
  ['attempt', 'attempt', 'uint32'],
  ['max_retries', 'maxRetries', 'optional_uint32'],
  ['timeout_ms', 'timeoutMs', 'optional_int64'],
  ['backoff_ms', 'backoffMs', 'optional_int64'],
  ['result_ttl_ms', 'resultTtlMs', 'optional_int64'],
  ['expires_ms', 'expiresMs', 'optional_int64'],
  ['headers', 'headers', 'headers'],
];
const STATUS_FIELDS = [
  ['spec_version', 'specVersion', 'string'],
  ['state', 'state', 'uint32'],
  ['value', 'value', 'bytes'],
  ['error', 'error', 'error'],
  ['attempts', 'attempts', 'uint32'],
  ['enqueued_ms', 'enqueuedMs', 'int64'],
  ['started_ms', 'startedMs', 'int64'],
  ['finished_ms', 'finishedMs', 'int64'],
  ['worker_id', 'workerId', 'string'],
  ['task', 'task', 'string'],
  ['progress', 'progress', 'progress'],
];
const ERROR_FIELDS = ['type', 'message', 'traceback'];
const RECORDS = {
  Job: { fields: JOB_FIELDS, encode: encodeJob, decode: decodeJob },
  Status: { fields: STATUS_FIELDS, encode: encodeStatus, decode: decodeStatus },
};

function recordOf(message) {
  const record = RECORDS[message];
  if (record === undefined) throw new BadRequest(`unknown record ${message}`);
  return record;
}

function fieldsToRecord(spec, fields) {
  const record = {};
  for (const [proto, camel, kind] of spec) {
    const value = fields[proto];
    const present = value !== undefined;
    switch (kind) {
      case 'string':
        record[camel] = value ?? '';
        break;
      case 'bytes':
        record[camel] = bytesOf(value ?? '');
        break;
      case 'uint32':
        record[camel] = value ?? 0;
        break;
      case 'int64':
        record[camel] = present ? intOf(String(value)) : 0;
        break;
      case 'optional_uint32':
        if (present) record[camel] = value;
        break;
      case 'optional_int64':
        if (present) record[camel] = intOf(String(value));
        break;
      case 'error':
        if (present) {
          record[camel] = Object.fromEntries(ERROR_FIELDS.map((name) => [name, value[name] ?? '']));
        }
        break;
      case 'headers':
        if (present) record[camel] = Object.entries(value);
        break;
      case 'progress':
        if (present) {
          record[camel] = {
            fraction: value.fraction ?? 0,
            message: value.message ?? '',
            updatedMs: intOf(String(value.updated_ms ?? 0)),
          };
        }
        break;
    }
  }
  return record;
}

function recordToFields(spec, record) {
  const fields = {};
  for (const [proto, camel, kind] of spec) {
    const value = record[camel];
    switch (kind) {
      case 'string':
        if (value !== '') fields[proto] = value;
        break;
      case 'bytes':
        if (value.length > 0) fields[proto] = hexOf(value);
        break;
      case 'uint32':
        if (value !== 0) fields[proto] = value;
        break;
      case 'int64':
        if (value !== 0 && value !== 0n) fields[proto] = String(value);
        break;
      case 'optional_uint32':
        if (value !== undefined) fields[proto] = value;
        break;
      case 'optional_int64':
        if (value !== undefined) fields[proto] = String(value);
        break;
      case 'error':
        if (value !== undefined) {
          fields[proto] = Object.fromEntries(
            ERROR_FIELDS.filter((name) => value[name] !== '').map((name) => [name, value[name]]),
          );
        }
        break;
      case 'headers':
        if (value !== undefined && value.length > 0) fields[proto] = Object.fromEntries(value);
        break;
      case 'progress':
        if (value !== undefined) {
          const progress = {};
          if (!Object.is(value.fraction, 0)) progress.fraction = value.fraction;
          if (value.message !== '') progress.message = value.message;
          if (value.updatedMs !== 0) progress.updated_ms = String(value.updatedMs);
          fields[proto] = progress;
        }
        break;
    }
  }
  return fields;
}

/** An operation against Redis before `connect`. */
class NotConnected extends Error {
  specType = 'NotConnected';
}

/** @type {import('../../../clients/typescript/dist/index.js').ArdiqClient | null} */
let client = null;

function connected() {
  if (client === null) throw new NotConnected('connect first');
  return client;
}

function outcomeOf(job) {
  return { job_id: job.id, outcome: job.outcome };
}

const OPS = {
  encode_value: (req) => hexOf(encodeValue(toNative(req.value))),
  decode_value: (req) => toTyped(decodeValue(bytesOf(req.hex))),
  encode_record: (req) => {
    const record = recordOf(req.message);
    return hexOf(record.encode(fieldsToRecord(record.fields, req.fields)));
  },
  decode_record: (req) => {
    const record = recordOf(req.message);
    return recordToFields(record.fields, record.decode(bytesOf(req.hex)));
  },
  build_enqueue: (req) => {
    const call = buildEnqueue(
      req.queue,
      req.task,
      req.args.map(toNative),
      toOptions(req.options, req.kwargs ?? []),
      req.now_ms,
    );
    return {
      keys: call.keys,
      argv: call.argv.map((arg) => hexOf(typeof arg === 'string' ? Buffer.from(arg) : arg)),
    };
  },
  connect: async (req) => {
    if (client !== null) await client.close();
    client = null;
    client = await createClient({ url: req.url, queue: req.queue, cluster: req.cluster === true });
    return null;
  },
  enqueue: async (req) => {
    const options = toOptions(req.options, req.kwargs ?? []);
    return outcomeOf(await connected().enqueue(req.task, (req.args ?? []).map(toNative), options));
  },
  enqueue_many: async (req) => {
    const specs = req.jobs.map((job) => ({
      task: job.task,
      args: (job.args ?? []).map(toNative),
      ...toOptions(job.options, job.kwargs ?? []),
    }));
    return (await connected().enqueueMany(specs)).map(outcomeOf);
  },
  status: async (req) => connected().job(req.job_id).status(),
  result: async (req) =>
    toTyped(await connected().job(req.job_id).result({ timeoutMs: req.timeout_ms })),
  abort: async (req) => connected().job(req.job_id).abort(),
  progress: async (req) => {
    const progress = await connected().job(req.job_id).progress();
    if (progress === null) return null;
    return {
      fraction: progress.fraction,
      message: progress.message,
      updated_ms: Number(progress.updatedMs),
    };
  },
  close: async () => {
    if (client !== null) await client.close();
    client = null;
    return null;
  },
};

function errorResponse(id, error) {
  const type =
    error instanceof ArdiqError || typeof error?.specType === 'string'
      ? error.specType
      : 'Internal';
  if (error instanceof JobFailedError) {
    return {
      id,
      result: 'error',
      error: {
        type,
        message: `${error.remoteType}: ${error.remoteMessage}`,
        remote: {
          type: error.remoteType,
          message: error.remoteMessage,
          traceback: error.remoteTraceback,
        },
      },
    };
  }
  if (type === 'Internal') process.stderr.write(`${error?.stack ?? error}\n`);
  return { id, result: 'error', error: { type, message: String(error?.message ?? error) } };
}

async function answer(request) {
  const { id, op } = request;
  const handler = OPS[op];
  if (handler === undefined) return { id, result: 'skipped', reason: `no operation ${op}` };
  try {
    return { id, result: 'ok', value: await handler(request) };
  } catch (error) {
    if (error instanceof Inexpressible) return { id, result: 'skipped', reason: error.message };
    return errorResponse(id, error);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  let response;
  try {
    response = await answer(JSON.parse(line));
  } catch (error) {
    response = { id: null, result: 'error', error: { type: 'Internal', message: String(error) } };
  }
  process.stdout.write(`${JSON.stringify(response)}\n`);
}
await OPS.close();
