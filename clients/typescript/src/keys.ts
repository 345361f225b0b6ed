/**
 * Redis key names of one queue (SPEC.md section 2). Every key carries the
 * hash tag `{<queue>}` so that all keys of a queue live in one cluster slot.
 */

/** Number of priority levels; priorities are `0..PRIORITY_LEVELS - 1`. */
export const PRIORITY_LEVELS = 10;

/** Key names of one queue. */
export class QueueKeys {
  /** The queue name. */
  readonly queue: string;
  private readonly prefix: string;
  private readonly streams: readonly string[];

  constructor(queue: string) {
    this.queue = queue;
    this.prefix = `ardiq:{${queue}}:`;
    this.streams = Array.from({ length: PRIORITY_LEVELS }, (_, p) => `${this.prefix}stream:${p}`);
  }

  /** Stream of one priority level, `ardiq:{q}:stream:<p>`. */
  stream(priority: number): string {
    const key = this.streams[priority];
    if (key === undefined) throw new RangeError(`no stream for priority ${priority}`);
    return key;
  }

  /** Status key of a job, `ardiq:{q}:job:<id>`. */
  job(id: string): string {
    return `${this.prefix}job:${id}`;
  }

  /** Sorted set of delayed job ids by due time. */
  get delayed(): string {
    return `${this.prefix}delayed`;
  }

  /** Hash of delayed jobs' records. */
  get delayedJobs(): string {
    return `${this.prefix}delayed:jobs`;
  }

  /** Hash of running job ids to worker ids. */
  get running(): string {
    return `${this.prefix}running`;
  }

  /** Set of job ids whose abort was requested. */
  get abort(): string {
    return `${this.prefix}abort`;
  }

  /** Dead-letter stream. */
  get dead(): string {
    return `${this.prefix}dead`;
  }

  /** Spec 1.1: the kept-failures stream. */
  get failed(): string {
    return `${this.prefix}failed`;
  }

  /** Sorted set of worker ids by last heartbeat. */
  get workers(): string {
    return `${this.prefix}workers`;
  }

  /** Heartbeat key of one worker. */
  worker(id: string): string {
    return `${this.prefix}worker:${id}`;
  }

  /** Every level's stream, level 0 first. */
  get allStreams(): readonly string[] {
    return this.streams;
  }

  /**
   * Pub/sub channel carrying `abort:<id>` hints and (1.1) `done:<id>` and
   * `waiting:<deadline ms>` messages.
   */
  get events(): string {
    return `${this.prefix}events`;
  }

  /** Sorted set of job ids someone waits on, by the wait's deadline (1.1). */
  get waiters(): string {
    return `${this.prefix}waiters`;
  }
}
