/**
 * The read-only half of inspection (spec 1.1, SPEC.md section 20): a queue
 * at a glance (`inspect.lua`), its workers from their heartbeats, and its
 * jobs by state a page at a time (`held.lua` for running ones,
 * `scheduled.lua` for scheduled ones, `XRANGE` of the kept-failures and dead-letter
 * streams). `ArdiqClient.queueInfo`, `workers` and `jobs` run these.
 */
import { InvalidOptionError, MalformedRecordError } from './errors.js';
import type { QueueKeys } from './keys.js';
import {
  decodeDeadLetter,
  decodeFailure,
  decodeHeartbeat,
  decodeJob,
  type EndedRecord,
  type ErrorRecord,
  type Int64,
  type JobRecord,
} from './records.js';

/** Most jobs one page lists. */
export const MAX_PAGE = 1_000;

/** One priority level: entries waiting (no worker has them), held, and when the oldest waiting one was queued. */
export interface LevelInfo {
  priority: number;
  waiting: number;
  held: number;
  oldestWaitingMs: number | undefined;
}

/** A queue at a glance. `lagMs` is how long its oldest waiting job has waited (0 when none waits). */
export interface QueueInfo {
  queue: string;
  /** Levels 9 down to 0. */
  levels: LevelInfo[];
  waiting: number;
  held: number;
  scheduled: number;
  nextDueMs: number | undefined;
  running: number;
  dead: number;
  failed: number;
  workers: number;
  lagMs: number;
  /** Whether any key of the queue exists. */
  exists: boolean;
}

/** A worker of the queue, alive while its heartbeat key exists. */
export interface WorkerInfo {
  workerId: string;
  alive: boolean;
  seenMs: Int64;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  startedMs: Int64;
  running: number;
  completed: Int64;
  failed: Int64;
}

/** Which jobs to list. */
export type ListState = 'running' | 'scheduled' | 'failed' | 'dead';

/** One listed job; which fields mean something depends on `state` (SPEC.md section 20). */
export interface ListedJob {
  state: ListState;
  jobId: string;
  task: string;
  job: JobRecord | undefined;
  /** Its stream entry (running), or its entry in the kept-failures or dead-letter stream. */
  entryId: string;
  workerId: string;
  priority: number;
  /** Scheduled: the due time; failed: when it failed; dead: when it died. */
  atMs: Int64;
  idleMs: number;
  deliveries: number;
  /** Running: whether `running` names it (false for a handed-back entry). */
  inRunning: boolean;
  error: ErrorRecord | undefined;
  reason: string;
  attempts: number;
}

/** A page of a listing; `next` is the following page's cursor. */
export interface JobPage {
  jobs: ListedJob[];
  next: string | undefined;
}

/** What the inspection needs of a connection. */
export interface InspectConnection {
  run(name: 'inspect' | 'held' | 'scheduled', keys: string[], argv: string[]): Promise<unknown>;
  command(key: string, args: string[]): Promise<unknown>;
}

const text = (value: unknown): string =>
  value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value ?? '');

const integer = (value: unknown): number =>
  Number(value instanceof Uint8Array ? text(value) : value);

const bytes = (value: unknown): Uint8Array =>
  value instanceof Uint8Array ? value : Buffer.from(text(value));

/** Whether `id` is a whole stream entry id, `<ms>-<sequence>`, each part an unsigned 64-bit integer. */
function isEntryId(id: string): boolean {
  const parts = /^(\d+)-(\d+)$/.exec(id);
  return parts !== null && parts.slice(1).every((part) => BigInt(part) < 2n ** 64n);
}

/** A score as Redis writes one: the due-time part of a scheduled listing's cursor. */
const SCORE = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

/** `[member, score]` pairs of a `ZRANGE ... WITHSCORES` reply: flat in RESP2, nested in RESP3. */
function scored(reply: unknown): Array<[string, number]> {
  const items = Array.isArray(reply) ? (reply as unknown[]) : [];
  if (items.every((item) => Array.isArray(item))) {
    return (items as unknown[][]).map(([member, score]) => [text(member), integer(score)]);
  }
  const pairs: Array<[string, number]> = [];
  for (let i = 0; i + 1 < items.length; i += 2) pairs.push([text(items[i]), integer(items[i + 1])]);
  return pairs;
}

function entryMs(entryId: string): number | undefined {
  const head = entryId.split('-')[0] ?? '';
  return /^\d+$/.test(head) ? Number(head) : undefined;
}

function jobOf(raw: Uint8Array): JobRecord | undefined {
  if (raw.length === 0) return undefined;
  try {
    return decodeJob(raw);
  } catch {
    return undefined;
  }
}

function listed(state: ListState, jobId: string, task: string): ListedJob {
  return {
    state,
    jobId,
    task,
    job: undefined,
    entryId: '',
    workerId: '',
    priority: 0,
    atMs: 0,
    idleMs: 0,
    deliveries: 0,
    inRunning: false,
    error: undefined,
    reason: '',
    attempts: 0,
  };
}

function checkCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PAGE) {
    throw new InvalidOptionError(
      `invalid count ${String(count)}: it must be an integer from 1 to ${MAX_PAGE}`,
    );
  }
  return count;
}

/** The queue at a glance. */
export async function queueInfo(
  connection: InspectConnection,
  keys: QueueKeys,
): Promise<QueueInfo> {
  const reply = await connection.run(
    'inspect',
    [...keys.allStreams, keys.delayed, keys.running, keys.dead, keys.failed, keys.workers],
    ['ardiq', String(Date.now())],
  );
  if (!Array.isArray(reply) || reply.length !== 8 || !Array.isArray(reply[0])) {
    throw new MalformedRecordError('inspect.lua did not reply {levels, counts...}');
  }
  const levels: LevelInfo[] = (reply[0] as unknown[][])
    .map(([waiting, held, oldest], priority) => ({
      priority,
      waiting: integer(waiting),
      held: integer(held),
      oldestWaitingMs: entryMs(text(oldest)),
    }))
    .reverse();
  const [scheduled, due, running, dead, failed, workers, exists] = reply.slice(1).map(integer);
  const oldest = Math.min(...levels.map((level) => level.oldestWaitingMs ?? Infinity));
  return {
    queue: keys.queue,
    levels,
    waiting: levels.reduce((sum, level) => sum + level.waiting, 0),
    held: levels.reduce((sum, level) => sum + level.held, 0),
    scheduled: scheduled ?? 0,
    nextDueMs: due === undefined || due < 0 ? undefined : due,
    running: running ?? 0,
    dead: dead ?? 0,
    failed: failed ?? 0,
    workers: workers ?? 0,
    lagMs: Number.isFinite(oldest) ? Math.max(0, Date.now() - oldest) : 0,
    exists: (exists ?? 0) > 0,
  };
}

/** How long a worker stays listed after its last heartbeat, ms (SPEC.md section 20). */
const WORKER_LISTED_MS = 60_000;

/** The workers seen in the last minute, most recent first; gone ones have `alive` false. */
export async function workers(
  connection: InspectConnection,
  keys: QueueKeys,
): Promise<WorkerInfo[]> {
  const seen = scored(
    await connection.command(keys.workers, [
      'ZRANGE',
      keys.workers,
      '+inf',
      `(${Date.now() - WORKER_LISTED_MS}`,
      'BYSCORE',
      'REV',
      'WITHSCORES',
    ]),
  );
  const ids = seen.map(([id]) => id);
  const scores = seen.map(([, score]) => score);
  if (ids.length === 0) return [];
  const beats = (await connection.command(keys.workers, [
    'MGET',
    ...ids.map((id) => keys.worker(id)),
  ])) as unknown[];
  return ids.map((workerId, i) => {
    const beat = beats[i];
    if (!(beat instanceof Uint8Array)) {
      return {
        workerId,
        alive: false,
        seenMs: scores[i] ?? 0,
        hostname: '',
        pid: 0,
        queues: [],
        concurrency: 0,
        startedMs: 0,
        running: 0,
        completed: 0,
        failed: 0,
      };
    }
    const record = decodeHeartbeat(beat);
    return { ...record, workerId, alive: true };
  });
}

/** One page of the queue's jobs in `state`, at most `count` (1 to 1,000) from `cursor`. */
export async function jobs(
  connection: InspectConnection,
  keys: QueueKeys,
  state: ListState,
  count: number = 100,
  cursor?: string,
): Promise<JobPage> {
  checkCount(count);
  if (state === 'running') {
    const [level, after] = (cursor ?? '9:').split(':', 2);
    if (level === undefined || !/^\d$/.test(level) || (after && !isEntryId(after))) {
      throw new InvalidOptionError(`invalid cursor ${JSON.stringify(cursor)}`);
    }
    const reply = await connection.run(
      'held',
      [...keys.allStreams, keys.running],
      ['ardiq', level, after ?? '', String(count)],
    );
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
      throw new MalformedRecordError('held.lua did not reply {next, entries}');
    }
    const found = (reply[1] as unknown[][]).map(
      ([lvl, entryId, consumer, idle, deliveries, jobId, task, job, owner]) => ({
        ...listed('running', text(jobId), text(task)),
        job: jobOf(bytes(job)),
        entryId: text(entryId),
        workerId: text(owner) || text(consumer),
        priority: integer(lvl),
        idleMs: integer(idle),
        deliveries: integer(deliveries),
        inRunning: text(owner) !== '',
      }),
    );
    const next = text(reply[0]);
    return { jobs: found, next: next === '' ? undefined : next };
  }
  if (state === 'scheduled') {
    // The cursor names the last job of the page before: `<due>:<job id>`.
    const colon = cursor === undefined ? -1 : cursor.indexOf(':');
    const due = cursor === undefined ? '' : cursor.slice(0, colon);
    if (cursor !== undefined && (colon < 0 || !SCORE.test(due))) {
      throw new InvalidOptionError(`invalid cursor ${JSON.stringify(cursor)}`);
    }
    const after = cursor === undefined ? '' : cursor.slice(colon + 1);
    const reply = await connection.run(
      'scheduled',
      [keys.delayed, keys.delayedJobs],
      [due, after, String(count)],
    );
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
      throw new MalformedRecordError('scheduled.lua did not reply {next, jobs}');
    }
    const found = (reply[1] as unknown[][]).map(([jobId, dueMs, raw]) => {
      const job = jobOf(bytes(raw));
      return {
        ...listed('scheduled', text(jobId), job?.task ?? ''),
        job,
        priority: job?.priority ?? 0,
        atMs: integer(dueMs),
      };
    });
    const next = text(reply[0]);
    return { jobs: found, next: next === '' ? undefined : next };
  }
  if (cursor !== undefined && !isEntryId(cursor)) {
    throw new InvalidOptionError(`invalid cursor ${JSON.stringify(cursor)}`);
  }
  const stream = state === 'failed' ? keys.failed : keys.dead;
  const entries = (await connection.command(stream, [
    'XRANGE',
    stream,
    cursor === undefined ? '-' : `(${cursor}`,
    '+',
    'COUNT',
    String(count),
  ])) as unknown[][];
  const found = entries.map(([entryId, fields]) => {
    const flat = fields as unknown[];
    let raw: Uint8Array = new Uint8Array(0);
    for (let i = 0; i + 1 < flat.length; i += 2)
      if (text(flat[i]) === 'record') raw = bytes(flat[i + 1]);
    const record: EndedRecord = state === 'failed' ? decodeFailure(raw) : decodeDeadLetter(raw);
    const job = jobOf(record.job);
    return {
      ...listed(state, record.jobId, record.task),
      job,
      entryId: text(entryId),
      workerId: record.workerId,
      priority: job?.priority ?? 0,
      atMs: record.atMs,
      error: record.error,
      reason: record.reason,
      attempts: record.attempts,
    };
  });
  const last = found[found.length - 1];
  return {
    jobs: found,
    next: found.length === count && last !== undefined ? last.entryId : undefined,
  };
}
