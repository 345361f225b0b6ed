/**
 * Turning a call (`task`, `args`, options) into the `Job` record and the
 * `enqueue.lua` KEYS and ARGV that SPEC.md sections 3, 5 and 7 prescribe.
 * Pure: no Redis, the clock is a parameter. Every check runs here, so a
 * batch with one bad job is rejected before anything is written.
 */
import {
  InvalidDelayError,
  InvalidJobIdError,
  InvalidOptionError,
  InvalidPriorityError,
  InvalidQueueNameError,
  InvalidTaskNameError,
  PayloadTooLargeError,
  UnsupportedValueError,
} from './errors.js';
import { newJobId } from './jobId.js';
import { PRIORITY_LEVELS, QueueKeys } from './keys.js';
import { RECORD_VERSION, RECORD_VERSION_1_1, encodeJob } from './records.js';
import { ByteSink, writeValue } from './value.js';

/** Largest `Job` record, in bytes. */
export const MAX_RECORD_BYTES = 1_048_576;
/** Longest task name and job id, in bytes. */
export const MAX_NAME_BYTES = 256;
/** Longest queue name, in bytes. */
export const MAX_QUEUE_BYTES = 128;
/** Most headers on one job (spec 1.1). */
export const MAX_HEADERS = 64;
/** Longest header value, in bytes (spec 1.1). */
export const MAX_HEADER_VALUE_BYTES = 8_192;
/** Most jobs in one `enqueue.lua` call. */
export const MAX_BATCH = 1_000;
/** Priority written when the caller gives none. */
export const DEFAULT_PRIORITY = 5;
/** 100 years of 365.25 days: the longest delay, timeout, backoff and result TTL, in ms. */
export const MAX_DURATION_MS = 3_155_760_000_000;
/** 9999-12-31T23:59:59.999Z: the latest `scheduleAt` and `expiresMs`, in ms since the epoch. */
export const MAX_SCHEDULE_MS = 253_402_300_799_999;
/** The largest `maxRetries`. */
export const MAX_RETRIES = 1_000;

/** Options of one enqueued job. Times are ms since the Unix epoch, durations ms. */
export interface EnqueueOptions {
  /** Keyword arguments: a plain object or a `Map` with string keys. */
  kwargs?: Record<string, unknown> | Map<string, unknown>;
  /** An integer 0..9, higher runs first; default 5. */
  priority?: number;
  /** Run no sooner than this many ms from now: an integer 0..`MAX_DURATION_MS` (100 years). */
  delayMs?: number;
  /**
   * Run no sooner than this time: a `Date` or an integer number of ms since
   * the epoch, 0..`MAX_SCHEDULE_MS` (the end of year 9999). Not with `delayMs`.
   */
  scheduleAt?: number | Date;
  /** The idempotency key; a UUID v7 when not given. */
  jobId?: string;
  /** Overrides the task's retry count: an integer 0..1,000. */
  maxRetries?: number;
  /** Overrides the task's timeout, 0..`MAX_DURATION_MS`; 0 means none. */
  timeoutMs?: number;
  /** Overrides the task's base retry backoff, 0..`MAX_DURATION_MS`. */
  backoffMs?: number;
  /** Overrides the task's result TTL, 0..`MAX_DURATION_MS`; 0 keeps no result. */
  resultTtlMs?: number;
  /**
   * Do not run the job unless a worker starts it before this time, in ms
   * since the epoch (an integer 1..`MAX_SCHEDULE_MS`): past it, the job ends
   * `expired` unrun. It must be later than now and, for a delayed job, than
   * its due time. Not with `expiresAt`.
   */
  expiresMs?: number;
  /** `expiresMs` as a `Date`. Not with `expiresMs`. */
  expiresAt?: Date;
  /**
   * Spec 1.1: strings for the worker, at most 64; names 1 to 256 bytes
   * without white space, values 1 to 8,192 bytes. With `@opentelemetry/api`
   * installed the active trace context is added (W3C `traceparent`,
   * `tracestate`); a header given here wins.
   */
  headers?: Record<string, string> | Map<string, string>;
}

/** One job of a batch: the call and its options. */
export interface JobSpec extends EnqueueOptions {
  task: string;
  args?: readonly unknown[];
}

/** A job ready to be sent: its id, where it goes and its record. */
export interface PreparedJob {
  id: string;
  task: string;
  priority: number;
  /** 0 for "run now". */
  dueMs: number;
  record: Uint8Array;
  resultTtlMs: number | undefined;
}

const OPTION_NAMES = new Set([
  'kwargs',
  'priority',
  'delayMs',
  'scheduleAt',
  'jobId',
  'maxRetries',
  'timeoutMs',
  'backoffMs',
  'resultTtlMs',
  'headers',
  'expiresMs',
  'expiresAt',
]);
const JOB_SPEC_NAMES = new Set([...OPTION_NAMES, 'task', 'args']);

const WHITE_SPACE = /\p{White_Space}/u;
// Queue names also exclude the hash-tag braces (SPEC.md section 1).
const QUEUE_FORBIDDEN = /[{}\p{White_Space}]/u;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Checks a queue name (SPEC.md section 1). */
export function checkQueueName(queue: unknown): string {
  if (
    typeof queue !== 'string' ||
    queue === '' ||
    utf8Length(queue) > MAX_QUEUE_BYTES ||
    QUEUE_FORBIDDEN.test(queue) ||
    !queue.isWellFormed()
  ) {
    throw new InvalidQueueNameError(
      `invalid queue name ${JSON.stringify(queue)}: it must be 1 to ${MAX_QUEUE_BYTES} bytes of UTF-8 without braces or white space`,
    );
  }
  return queue;
}

/** Checks a task name (SPEC.md section 5). */
export function checkTaskName(task: unknown): string {
  if (
    typeof task !== 'string' ||
    task === '' ||
    utf8Length(task) > MAX_NAME_BYTES ||
    !task.isWellFormed()
  ) {
    throw new InvalidTaskNameError(
      `invalid task name ${JSON.stringify(task)}: it must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8`,
    );
  }
  return task;
}

/** Checks a job id (SPEC.md section 5). */
export function checkJobId(id: unknown): string {
  if (
    typeof id !== 'string' ||
    id === '' ||
    utf8Length(id) > MAX_NAME_BYTES ||
    WHITE_SPACE.test(id) ||
    !id.isWellFormed()
  ) {
    throw new InvalidJobIdError(
      `invalid job id ${JSON.stringify(id)}: it must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8 without white space`,
    );
  }
  return id;
}

function checkPriority(priority: unknown): number {
  if (priority === undefined) return DEFAULT_PRIORITY;
  if (
    typeof priority !== 'number' ||
    !Number.isInteger(priority) ||
    priority < 0 ||
    priority >= PRIORITY_LEVELS
  ) {
    throw new InvalidPriorityError(`invalid priority ${String(priority)}: it must be 0 to 9`);
  }
  return priority;
}

/** Whether `value` is an integer `number` in `0..max` (never a boolean, bigint or string). */
function isIntegerUpTo(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

/** Checks a duration override in ms (SPEC.md section 5). */
export function checkDuration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!isIntegerUpTo(value, MAX_DURATION_MS)) {
    throw new InvalidOptionError(
      `invalid ${name} ${String(value)}: it must be an integer from 0 to ${MAX_DURATION_MS} ms (100 years)`,
    );
  }
  return value;
}

function checkMaxRetries(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!isIntegerUpTo(value, MAX_RETRIES)) {
    throw new InvalidOptionError(
      `invalid maxRetries ${String(value)}: it must be an integer from 0 to ${MAX_RETRIES}`,
    );
  }
  return value;
}

/** The record's `due_ms`: 0 for "run now" (SPEC.md section 7). */
function dueMs(options: EnqueueOptions, nowMs: number): number {
  const { delayMs, scheduleAt } = options;
  if (delayMs !== undefined && scheduleAt !== undefined) {
    throw new InvalidDelayError('give delayMs or scheduleAt, not both');
  }
  if (delayMs !== undefined) {
    if (!isIntegerUpTo(delayMs, MAX_DURATION_MS)) {
      throw new InvalidDelayError(
        `invalid delayMs ${String(delayMs)}: it must be an integer from 0 to ${MAX_DURATION_MS} (100 years)`,
      );
    }
    return delayMs === 0 ? 0 : nowMs + delayMs;
  }
  if (scheduleAt !== undefined) {
    const at = scheduleAt instanceof Date ? scheduleAt.getTime() : scheduleAt;
    if (!isIntegerUpTo(at, MAX_SCHEDULE_MS)) {
      throw new InvalidDelayError(
        `invalid scheduleAt ${String(scheduleAt)}: it must be a Date or an integer number of ms since the epoch from 0 to ${MAX_SCHEDULE_MS} (9999-12-31T23:59:59.999Z)`,
      );
    }
    return at > nowMs ? at : 0;
  }
  return 0;
}

/**
 * The record's `expires_ms` (1.1), or undefined when none is given: an
 * integer 1..`MAX_SCHEDULE_MS`, later than `nowMs` and than `due` when the
 * job is delayed (SPEC.md sections 5 and 17). The rules and their order are
 * the Rust core's (`limits::check_expires`).
 */
function expiresMs(options: EnqueueOptions, nowMs: number, due: number): number | undefined {
  const { expiresMs: ms, expiresAt: at } = options;
  if (ms !== undefined && at !== undefined) {
    throw new InvalidOptionError('give expiresMs or expiresAt, not both');
  }
  if (at !== undefined && !(at instanceof Date)) {
    throw new InvalidOptionError(`invalid expiresAt ${String(at)}: it must be a Date`);
  }
  const name = at === undefined ? 'expiresMs' : 'expiresAt';
  const value: unknown = at === undefined ? ms : at.getTime();
  if (value === undefined) return undefined;
  let rule: string;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_SCHEDULE_MS
  ) {
    rule = `it must be an integer from 1 to ${MAX_SCHEDULE_MS}`;
  } else if (value <= nowMs) {
    rule = `it must be later than now (${nowMs})`;
  } else if (due > 0 && value <= due) {
    rule = `it must be later than the job's due time (${due})`;
  } else {
    return value;
  }
  throw new InvalidOptionError(`invalid ${name} ${String(value)}: ${rule}`);
}

function checkOptionNames(options: object, allowed: Set<string>): void {
  for (const name of Object.keys(options)) {
    if (!allowed.has(name)) throw new InvalidOptionError(`unknown option ${JSON.stringify(name)}`);
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Encodes args and kwargs, empty bytes when there are none (SPEC.md section 3).
 * `sink` is scratch memory reused across a batch.
 */
function encodeCall(
  args: unknown,
  kwargs: unknown,
  sink: ByteSink,
): { args: Uint8Array; kwargs: Uint8Array } {
  if (!Array.isArray(args)) {
    throw new UnsupportedValueError('args', 'args must be an array');
  }
  // The args array and the kwargs map are not counted in a value's nesting
  // (SPEC.md section 4): they start at depth -1, so each argument is at 0.
  let argsBytes: Uint8Array = new Uint8Array(0);
  if (args.length > 0) {
    sink.reset();
    writeValue(sink, args, 'args', -1);
    argsBytes = sink.toBytes();
  }
  let kwargsBytes: Uint8Array = new Uint8Array(0);
  if (kwargs !== undefined) {
    const isMap = kwargs instanceof Map;
    if (!isMap && (typeof kwargs !== 'object' || kwargs === null || !isPlainObject(kwargs))) {
      throw new UnsupportedValueError('kwargs', 'kwargs must be a plain object or a Map');
    }
    const size = isMap ? kwargs.size : Object.keys(kwargs).length;
    if (size > 0) {
      sink.reset();
      writeValue(sink, kwargs, 'kwargs', -1);
      kwargsBytes = sink.toBytes();
    }
  }
  return { args: argsBytes, kwargs: kwargsBytes };
}

/**
 * Checks a job's headers (SPEC.md section 3.1) over the trace `context`
 * headers; the given ones win. Returns the `[name, value]` pairs.
 */
function checkHeaders(
  headers: unknown,
  context: Readonly<Record<string, string>> | undefined,
): Array<[string, string]> | undefined {
  if (headers === undefined && context === undefined) return undefined;
  let given: Array<[unknown, unknown]>;
  if (headers === undefined) given = [];
  else if (headers instanceof Map) given = [...headers.entries()];
  else if (typeof headers === 'object' && headers !== null && isPlainObject(headers)) {
    given = Object.entries(headers);
  } else {
    throw new InvalidOptionError(
      'invalid headers: they must be a plain object or a Map of strings',
    );
  }
  const merged = new Map<unknown, unknown>(Object.entries(context ?? {}));
  for (const [name, value] of given) merged.set(name, value);
  if (merged.size > MAX_HEADERS) {
    throw new InvalidOptionError(
      `invalid headers: ${merged.size} headers, at most ${MAX_HEADERS} are allowed`,
    );
  }
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of merged) {
    if (
      typeof name !== 'string' ||
      name === '' ||
      utf8Length(name) > MAX_NAME_BYTES ||
      WHITE_SPACE.test(name) ||
      !name.isWellFormed()
    ) {
      throw new InvalidOptionError(
        `invalid headers: header name ${JSON.stringify(name)} must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8 without white space`,
      );
    }
    if (
      typeof value !== 'string' ||
      value === '' ||
      utf8Length(value) > MAX_HEADER_VALUE_BYTES ||
      !value.isWellFormed()
    ) {
      throw new InvalidOptionError(
        `invalid headers: the value of header ${JSON.stringify(name)} must be a string of 1 to ${MAX_HEADER_VALUE_BYTES} bytes of UTF-8`,
      );
    }
    pairs.push([name, value]);
  }
  return pairs.length > 0 ? pairs : undefined;
}

/**
 * Checks and encodes one job at clock `nowMs`. Throws the typed error of
 * the first rule it breaks; writes nothing anywhere.
 */
export function prepareJob(
  task: unknown,
  args: unknown,
  options: EnqueueOptions,
  nowMs: number,
  sink: ByteSink = new ByteSink(),
  allowedNames: Set<string> = OPTION_NAMES,
  context?: Readonly<Record<string, string>>,
): PreparedJob {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options must be an object');
  }
  checkOptionNames(options, allowedNames);
  const taskName = checkTaskName(task);
  const id = options.jobId === undefined ? newJobId(nowMs) : checkJobId(options.jobId);
  const priority = checkPriority(options.priority);
  const due = dueMs(options, nowMs);
  const expires = expiresMs(options, nowMs, due);
  const maxRetries = checkMaxRetries(options.maxRetries);
  const timeoutMs = checkDuration('timeoutMs', options.timeoutMs);
  const backoffMs = checkDuration('backoffMs', options.backoffMs);
  const resultTtlMs = checkDuration('resultTtlMs', options.resultTtlMs);
  const headers = checkHeaders(options.headers, context);
  const call = encodeCall(args, options.kwargs, sink);
  const record = encodeJob({
    // "1.1" only when a field added in 1.1 is set (SPEC.md section 12).
    specVersion: expires === undefined ? RECORD_VERSION : RECORD_VERSION_1_1,
    id,
    task: taskName,
    args: call.args,
    kwargs: call.kwargs,
    priority,
    enqueuedMs: nowMs,
    dueMs: due,
    attempt: 0,
    maxRetries,
    timeoutMs,
    backoffMs,
    resultTtlMs,
    headers,
    expiresMs: expires,
  });
  if (record.length > MAX_RECORD_BYTES) {
    throw new PayloadTooLargeError(record.length, MAX_RECORD_BYTES);
  }
  return { id, task: taskName, priority, dueMs: due, record, resultTtlMs };
}

/** Checks and encodes one job of a batch (`JobSpec` carries the call and its options). */
export function prepareJobSpec(
  spec: JobSpec,
  nowMs: number,
  sink: ByteSink,
  context?: Readonly<Record<string, string>>,
): PreparedJob {
  if (typeof spec !== 'object' || spec === null) {
    throw new InvalidOptionError('each job of a batch must be an object with a task');
  }
  return prepareJob(spec.task, spec.args ?? [], spec, nowMs, sink, JOB_SPEC_NAMES, context);
}

/** The KEYS and ARGV of one `enqueue.lua` call for a batch of prepared jobs. */
export interface EnqueueCall {
  keys: string[];
  argv: Array<string | Uint8Array>;
}

/** Assembles the `enqueue.lua` call for up to `MAX_BATCH` prepared jobs. */
export function enqueueCall(keys: QueueKeys, jobs: readonly PreparedJob[]): EnqueueCall {
  const keyList = [keys.delayed, keys.delayedJobs];
  const argv: Array<string | Uint8Array> = [];
  for (const job of jobs) {
    keyList.push(keys.job(job.id), keys.stream(job.priority));
    argv.push(job.id, job.task, String(job.dueMs), job.record);
  }
  return { keys: keyList, argv };
}

/**
 * The exact `enqueue.lua` KEYS and ARGV a client sends for one job at clock
 * `nowMs`; the conformance vectors compare them byte for byte.
 */
export function buildEnqueue(
  queue: string,
  task: string,
  args: readonly unknown[],
  options: EnqueueOptions,
  nowMs: number,
): EnqueueCall {
  const keys = new QueueKeys(checkQueueName(queue));
  return enqueueCall(keys, [prepareJob(task, args, options, nowMs)]);
}
