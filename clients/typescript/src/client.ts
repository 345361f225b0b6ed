/**
 * The producer: a client of one queue, enqueueing jobs with `enqueue.lua`
 * and reading or aborting them with `status.lua` and `abort.lua` (SPEC.md
 * sections 3, 6 and 8), over a `Connection` (SPEC.md section 14); waiting
 * for results woken by the worker that ends the job (`wait.lua` and the
 * events channel, SPEC.md section 15, in `wait.ts`).
 */
import {
  Connection,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  readCaFile,
  type ConnectionSettings,
} from './connection.js';
import {
  InvalidOptionError,
  JobAbortedError,
  JobDeadError,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  MalformedRecordError,
  TimeoutError,
} from './errors.js';
import {
  MAX_BATCH,
  checkDuration,
  checkJobId,
  checkQueueName,
  enqueueCall,
  prepareJob,
  prepareJobSpec,
  type EnqueueOptions,
  type JobSpec,
  type PreparedJob,
} from './enqueue.js';
import { QueueKeys } from './keys.js';
import {
  RECORD_VERSION,
  SPEC_VERSION,
  State,
  decodeStatus,
  encodeStatus,
  type Int64,
  type StatusRecord,
} from './records.js';
import { traceHeaders } from './trace.js';
import * as inspect from './inspect.js';
import type { JobPage, ListState, QueueInfo, WorkerInfo } from './inspect.js';
import { ByteSink, decodeValue, type Value } from './value.js';
import { EventSubscription, waitForEnd } from './wait.js';

/** A job's state, as `status.lua` derives it (SPEC.md section 6). */
export type JobState =
  | 'not_found'
  | 'queued'
  | 'scheduled'
  | 'running'
  | 'complete'
  | 'failed'
  | 'aborted'
  | 'dead'
  | 'expired';

/** What enqueueing did: queued to run now, scheduled for later, or nothing (a duplicate id). */
export type EnqueueOutcome = 'queued' | 'scheduled' | 'duplicate';

/** The `abort.lua` reply: aborted now, abort requested, or the state that kept it from aborting. */
export type AbortOutcome =
  'not_found' | 'aborted' | 'abort_requested' | 'complete' | 'failed' | 'dead' | 'expired';

/** How far a job said it is (SPEC.md section 16), and when. */
export interface Progress {
  /** From 0.0 to 1.0. */
  fraction: number;
  /** At most 1,024 bytes of UTF-8; empty when the task gave none. */
  message: string;
  /** When the task reported it, ms since the Unix epoch. */
  updatedMs: Int64;
}

/** Options of `createClient`. */
export interface ClientOptions {
  /** `redis://` or `rediss://` (TLS) URL; ACL user name and password go in it. */
  url?: string;
  /** The queue to enqueue to; default `"default"`. */
  queue?: string;
  /**
   * How long to wait for a connection (TCP, TLS and the first reply), in ms;
   * default 2,000. Past it, the call throws `ConnectionError`.
   */
  connectTimeoutMs?: number;
  /**
   * How long to wait for each reply, in ms; default 5,000. Past it, the call
   * throws `ConnectionError` and is not sent again.
   */
  commandTimeoutMs?: number;
  /**
   * `url` is one node of a Redis Cluster: discover the others from it. All
   * keys of a queue share one hash slot, so each call goes to one node.
   */
  cluster?: boolean;
  /**
   * `rediss://` only: the path of a PEM file with the CA certificates that
   * may sign the server's certificate (a private CA), instead of Node's
   * public roots.
   */
  caFile?: string;
  /** `rediss://` only: the CA certificates as PEM text, instead of `caFile`. */
  ca?: string | Buffer;
  /**
   * `rediss://` only: `false` accepts any server certificate, for
   * development only. Default `true`.
   */
  rejectUnauthorized?: boolean;
}

/** Options of `Job.result`. */
export interface ResultOptions {
  /** Give up with `TimeoutError` after this many ms; default: wait as long as it takes. */
  timeoutMs?: number;
}

/** Options of `Job.abort`. */
export interface AbortOptions {
  /**
   * How long an aborted scheduled job's status is kept, in ms; 0 deletes it.
   * Default: the `resultTtlMs` this handle enqueued with, else one day.
   */
  resultTtlMs?: number;
}

/** The worker's default result TTL (SPEC.md section 6), used when aborting a scheduled job. */
export const DEFAULT_RESULT_TTL_MS = 86_400_000;

const STATES: ReadonlySet<string> = new Set<JobState>([
  'not_found',
  'queued',
  'scheduled',
  'running',
  'complete',
  'failed',
  'aborted',
  'dead',
  'expired',
]);
const TERMINAL_STATES: ReadonlySet<JobState> = new Set<JobState>([
  'complete',
  'failed',
  'aborted',
  'dead',
  'expired',
]);
const ABORT_OUTCOMES: ReadonlySet<string> = new Set<AbortOutcome>([
  'not_found',
  'aborted',
  'abort_requested',
  'complete',
  'failed',
  'dead',
  'expired',
]);

function asText(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply).toString('utf8');
  throw new MalformedRecordError(`unexpected script reply ${String(reply)}`);
}

function asBytes(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The checked timeout option `name`, or its default. */
function timeoutOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(
      `invalid ${name} ${String(value)}: it must be a positive integer number of ms`,
    );
  }
  return value;
}

/** The checked TLS options of `options`, for a `rediss://` URL. */
function tlsSettings(url: string, options: ClientOptions): ConnectionSettings['tls'] {
  const { caFile, ca, rejectUnauthorized } = options;
  const given = caFile !== undefined || ca !== undefined || rejectUnauthorized !== undefined;
  if (!url.startsWith('rediss://')) {
    if (given) {
      throw new InvalidOptionError('caFile, ca and rejectUnauthorized need a rediss:// URL');
    }
    return undefined;
  }
  if (caFile !== undefined && ca !== undefined) {
    throw new InvalidOptionError('give caFile or ca, not both');
  }
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') {
    throw new InvalidOptionError(
      `invalid rejectUnauthorized ${String(rejectUnauthorized)}: it must be a boolean`,
    );
  }
  if (ca !== undefined && typeof ca !== 'string' && !Buffer.isBuffer(ca)) {
    throw new InvalidOptionError('invalid ca: it must be PEM text, as a string or a Buffer');
  }
  if (caFile !== undefined && typeof caFile !== 'string') {
    throw new InvalidOptionError(`invalid caFile ${String(caFile)}: it must be a path`);
  }
  const tls: NonNullable<ConnectionSettings['tls']> = {};
  const pem = caFile === undefined ? ca : readCaFile(caFile);
  if (pem !== undefined) tls.ca = pem;
  if (rejectUnauthorized !== undefined) tls.rejectUnauthorized = rejectUnauthorized;
  return tls;
}

/**
 * Connects to Redis and returns a client for one queue. Throws
 * `ConnectionError` when Redis is unreachable (refused, timed out, or TLS
 * refused, as the message says) and `AuthenticationError` for a wrong user
 * name or password.
 */
export async function createClient(options: ClientOptions = {}): Promise<ArdiqClient> {
  const url = options.url ?? 'redis://127.0.0.1:6379';
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new InvalidOptionError(
      `invalid url ${JSON.stringify(url)}: it must start with redis:// or rediss://`,
    );
  }
  const queue = checkQueueName(options.queue ?? 'default');
  const connection = new Connection({
    url,
    cluster: options.cluster === true,
    connectTimeoutMs: timeoutOption(
      'connectTimeoutMs',
      options.connectTimeoutMs,
      DEFAULT_CONNECT_TIMEOUT_MS,
    ),
    commandTimeoutMs: timeoutOption(
      'commandTimeoutMs',
      options.commandTimeoutMs,
      DEFAULT_COMMAND_TIMEOUT_MS,
    ),
    tls: tlsSettings(url, options),
  });
  await connection.open();
  return new ArdiqClient(connection, queue);
}

/** A producer for one queue. Create it with `createClient`; `close` it when done. */
export class ArdiqClient {
  /** The queue's key names. */
  readonly keys: QueueKeys;
  private readonly connection: Connection;
  /** Wakes waiting `result()` calls; subscribes on the first wait. */
  private readonly events: EventSubscription;

  /** Use `createClient`, which connects first. */
  constructor(connection: Connection, queue: string) {
    this.connection = connection;
    this.keys = new QueueKeys(queue);
    this.events = new EventSubscription(this.keys.events, () => connection.openSubscriber());
  }

  /** The queue name. */
  get queue(): string {
    return this.keys.queue;
  }

  /**
   * Enqueues one call of `task`. Resolves to the job's handle; a job id
   * that exists already writes nothing and gives a handle with
   * `duplicate === true`.
   */
  async enqueue(
    task: string,
    args: readonly unknown[] = [],
    options: EnqueueOptions = {},
  ): Promise<Job> {
    const prepared = prepareJob(
      task,
      args,
      options,
      Date.now(),
      undefined,
      undefined,
      traceHeaders(),
    );
    const [job] = await this.send([prepared]);
    if (job === undefined) throw new MalformedRecordError('enqueue.lua replied with no job');
    return job;
  }

  /**
   * Enqueues many jobs: one `enqueue.lua` call per 1,000 jobs, all sent at
   * once on the connection's pipeline. Every job is checked before any is
   * sent, so a bad one rejects the batch with nothing written. Resolves to
   * the handles in order.
   */
  async enqueueMany(jobs: readonly JobSpec[]): Promise<Job[]> {
    if (!Array.isArray(jobs)) throw new InvalidOptionError('enqueueMany takes an array of jobs');
    const nowMs = Date.now();
    const sink = new ByteSink(1024);
    const context = traceHeaders();
    const prepared = jobs.map((spec) => prepareJobSpec(spec, nowMs, sink, context));
    return this.send(prepared);
  }

  private async send(prepared: readonly PreparedJob[]): Promise<Job[]> {
    const calls: Array<{ keys: string[]; argv: Array<string | Buffer> }> = [];
    for (let start = 0; start < prepared.length; start += MAX_BATCH) {
      const { keys, argv } = enqueueCall(this.keys, prepared.slice(start, start + MAX_BATCH));
      calls.push({ keys, argv: argv.map((arg) => (typeof arg === 'string' ? arg : asBytes(arg))) });
    }
    const replies = await this.connection.runMany('enqueue', calls);
    const handles: Job[] = [];
    for (const reply of replies) {
      if (!Array.isArray(reply))
        throw new MalformedRecordError('enqueue.lua did not reply an array');
      for (const item of reply) {
        const job = prepared[handles.length];
        if (job === undefined) throw new MalformedRecordError('enqueue.lua replied too many items');
        let outcome: EnqueueOutcome;
        let streamId: string | undefined;
        if (item === 0) {
          outcome = 'duplicate';
        } else {
          const text = asText(item);
          outcome = text === 'scheduled' ? 'scheduled' : 'queued';
          if (outcome === 'queued') streamId = text;
        }
        handles.push(new Job(this, job.id, { outcome, streamId, resultTtlMs: job.resultTtlMs }));
      }
    }
    if (handles.length !== prepared.length) {
      throw new MalformedRecordError(
        `enqueue.lua replied ${handles.length} items for ${prepared.length} jobs`,
      );
    }
    return handles;
  }

  /** A handle on the job with id `id` (enqueued by anyone). */
  job(id: string): Job {
    return new Job(this, checkJobId(id), {});
  }

  /** The job's state and its `Status` record (the result once terminal; null when not found). */
  async statusRecord(id: string): Promise<{ state: JobState; record: StatusRecord | null }> {
    checkJobId(id);
    const keys = this.keys;
    const reply = await this.connection.run(
      'status',
      [keys.job(id), keys.running, keys.delayed],
      [id],
    );
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new MalformedRecordError('status.lua did not reply {state, record}');
    }
    const state = asText(reply[0]);
    if (!STATES.has(state)) throw new MalformedRecordError(`status.lua replied state ${state}`);
    const raw: unknown = reply[1];
    const record = raw instanceof Uint8Array ? decodeStatus(raw) : null;
    return { state: state as JobState, record };
  }

  /** The queue at a glance (spec 1.1, `inspect.lua`): waiting and held jobs per priority, scheduled, running, dead, failed, workers, lag. */
  async queueInfo(): Promise<QueueInfo> {
    return inspect.queueInfo(this.connection, this.keys);
  }

  /** The queue's workers seen in the last minute, from their heartbeats; gone ones have `alive` false. */
  async workers(): Promise<WorkerInfo[]> {
    return inspect.workers(this.connection, this.keys);
  }

  /**
   * One page of the queue's jobs in `state` (`running`, `scheduled`,
   * `failed`, `dead`), at most `count` (1 to 1,000); pass the page's `next`
   * as `cursor` for the following one.
   */
  async jobs(
    state: ListState,
    options: { count?: number; cursor?: string } = {},
  ): Promise<JobPage> {
    return inspect.jobs(this.connection, this.keys, state, options.count ?? 100, options.cursor);
  }

  /**
   * Waits for the job with id `id` to end, or until `deadline` (ms since
   * the epoch; `Infinity` for no limit), and resolves to its last state and
   * record: terminal, `not_found` (at once: its result expired or was not
   * kept, or no job has this id), or what it was when the time ran out.
   * Woken by the worker that ends the job (SPEC.md section 15); see `wait.ts`.
   */
  async waitFor(
    id: string,
    deadline: number,
  ): Promise<{ state: JobState; record: StatusRecord | null }> {
    checkJobId(id);
    return waitForEnd(this.events, id, deadline, {
      readStatus: () => this.statusRecord(id),
      // No status key: a job has one from its enqueue on, so its result
      // expired or was not kept, or no job has this id; nothing will end it.
      ended: ({ state, record }) =>
        state === 'not_found' || (record !== null && TERMINAL_STATES.has(state)),
      register: async (deadlineMs) => {
        const keys = this.keys;
        await this.connection.run(
          'wait',
          [keys.waiters],
          [String(Date.now()), String(deadlineMs), keys.events, id],
        );
      },
    });
  }

  /** Runs `abort.lua` for the job with id `id`. */
  async abort(id: string, resultTtlMs: number = DEFAULT_RESULT_TTL_MS): Promise<AbortOutcome> {
    checkJobId(id);
    checkDuration('resultTtlMs', resultTtlMs);
    // The record stored when a scheduled job is aborted at once (SPEC.md section 6).
    const aborted = encodeStatus({
      specVersion: RECORD_VERSION,
      state: State.ABORTED,
      value: new Uint8Array(0),
      error: { type: 'JobAborted', message: 'aborted before it ran', traceback: '' },
      attempts: 0,
      enqueuedMs: 0,
      startedMs: 0,
      finishedMs: Date.now(),
      workerId: '',
      task: '',
    });
    const keys = this.keys;
    const reply = await this.connection.run(
      'abort',
      [keys.job(id), keys.delayed, keys.delayedJobs, keys.abort, keys.waiters],
      [id, String(resultTtlMs), asBytes(aborted), keys.events, String(Date.now())],
    );
    const outcome = asText(reply);
    if (!ABORT_OUTCOMES.has(outcome)) {
      throw new MalformedRecordError(`abort.lua replied ${outcome}`);
    }
    return outcome as AbortOutcome;
  }

  /** Closes the connections. Calls after this throw `NotConnectedError`. */
  async close(): Promise<void> {
    this.events.close();
    await this.connection.close();
  }
}

/** What the client knows about a job it enqueued. */
interface JobOrigin {
  outcome?: EnqueueOutcome | undefined;
  streamId?: string | undefined;
  resultTtlMs?: number | undefined;
}

/** A handle on one job: its id, and what can be asked of it. */
export class Job {
  /** The job id. */
  readonly id: string;
  /** What enqueueing did; undefined for a handle made by `client.job(id)`. */
  readonly outcome: EnqueueOutcome | undefined;
  /** The stream entry id when this handle's enqueue queued the job. */
  readonly streamId: string | undefined;
  private readonly client: ArdiqClient;
  private readonly resultTtlMs: number | undefined;

  constructor(client: ArdiqClient, id: string, origin: JobOrigin) {
    this.client = client;
    this.id = id;
    this.outcome = origin.outcome;
    this.streamId = origin.streamId;
    this.resultTtlMs = origin.resultTtlMs;
  }

  /** Whether the id existed already, so this enqueue wrote nothing. */
  get duplicate(): boolean {
    return this.outcome === 'duplicate';
  }

  /** The job's state now. */
  async status(): Promise<JobState> {
    return (await this.client.statusRecord(this.id)).state;
  }

  /**
   * The last progress the job reported (SPEC.md section 16), while it runs
   * and after it ended; null when it reported none (or is not found).
   */
  async progress(): Promise<Progress | null> {
    const { record } = await this.client.statusRecord(this.id);
    const progress = record?.progress;
    if (progress === undefined) return null;
    return {
      fraction: progress.fraction,
      message: progress.message,
      updatedMs: progress.updatedMs,
    };
  }

  /**
   * Waits for the job to finish and returns its decoded return value.
   * Throws `JobFailedError` (or `JobDeadError`) with the remote error,
   * `JobAbortedError`, `JobExpiredError`, `JobNotFoundError` at once when
   * the job has no status key (its result expired or was not kept, or no
   * job has this id), or `TimeoutError` when `timeoutMs` runs out first.
   * The worker that ends the job wakes the wait; the status is read when
   * the wait starts, when woken, and every second anyway (SPEC.md section
   * 15). A client whose user may not subscribe polls.
   */
  async result(options: ResultOptions = {}): Promise<Value> {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
      throw new InvalidOptionError(
        `invalid timeoutMs ${String(timeoutMs)}: it must be a non-negative number`,
      );
    }
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const { state, record } = await this.client.waitFor(this.id, deadline);
    if (state === 'not_found') {
      throw new JobNotFoundError(
        `job ${this.id} not found: its result expired or was not kept, or no job has this id`,
      );
    }
    if (record !== null) {
      switch (state) {
        case 'complete':
          return record.value.length === 0 ? null : decodeValue(record.value);
        case 'failed': {
          const error = record.error ?? { type: '', message: '', traceback: '' };
          throw new JobFailedError(this.id, error.type, error.message, error.traceback);
        }
        case 'dead': {
          const error = record.error ?? { type: 'DeadLetter', message: '', traceback: '' };
          throw new JobDeadError(this.id, error.type, error.message, error.traceback);
        }
        case 'aborted':
          throw new JobAbortedError(
            `job ${this.id} was aborted${record.error ? `: ${record.error.message}` : ''}`,
          );
        case 'expired':
          throw new JobExpiredError(
            `job ${this.id} expired${record.error ? `: ${record.error.message}` : ''}`,
          );
        default:
          break;
      }
    }
    throw new TimeoutError(`job ${this.id} did not finish within ${timeoutMs} ms (${state})`);
  }

  /**
   * Aborts the job: a scheduled job at once, a queued or running one by a
   * request its worker carries out. Resolves to the `abort.lua` reply.
   */
  async abort(options: AbortOptions = {}): Promise<AbortOutcome> {
    return this.client.abort(
      this.id,
      options.resultTtlMs ?? this.resultTtlMs ?? DEFAULT_RESULT_TTL_MS,
    );
  }
}
