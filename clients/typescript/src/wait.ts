/**
 * Waiting for a job to end without polling (SPEC.md section 15): the
 * client's one subscription to its queue's events channel, shared by every
 * wait, and the wait loop `Job.result` runs.
 *
 * A wait registers itself with `wait.lua`, reads the status once, and reads
 * it again on each `done:<id>` message for its job and every
 * `FALLBACK_POLL_MS` whatever it hears, so a lost message costs latency,
 * never a hang. Without a subscription (the server refused it, or it could
 * not be opened) the wait polls as a 1.0 client does.
 */
import { AuthenticationError, NotConnectedError } from './errors.js';
import { RedisCommandError, type SubscriberConnection } from './connection.js';

/** Status reads while subscribed, whatever the messages say: what a lost message costs at most. */
export const FALLBACK_POLL_MS = 1_000;
/** The longest wait one `wait.lua` call registers; a longer wait registers again. */
export const LONGEST_REGISTRATION_MS = 60_000;
// A registration outlives its wait by this much, so a job that ends right at
// the deadline still wakes it.
const REGISTRATION_SLACK_MS = 1_000;
// Without a subscription, status polling backs off from the first to the last pause.
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 100;
// After a subscription could not be opened, this long passes before another try.
const RESUBSCRIBE_AFTER_MS = 1_000;

/** Whether `error` says the server refuses this user pub/sub or `wait.lua` (an ACL). */
export function isRefusal(error: unknown): boolean {
  return error instanceof RedisCommandError || error instanceof AuthenticationError;
}

/**
 * The client's subscription to its queue's events channel. It is opened by
 * the first wait and kept until the client closes; each `done:<id>` message
 * wakes the waits on that job.
 */
export class EventSubscription {
  private readonly channel: string;
  private readonly open: () => Promise<SubscriberConnection>;
  /** Wake-up calls of the waits, by job id. */
  private readonly listeners = new Map<string, Set<() => void>>();
  private live: SubscriberConnection | undefined;
  private opening: Promise<number | null> | undefined;
  /** Counts subscriptions; a wait registered under an older one registers again. */
  private generation = 0;
  private refused = false;
  private retryAt = 0;
  private closed = false;

  constructor(channel: string, open: () => Promise<SubscriberConnection>) {
    this.channel = channel;
    this.open = open;
  }

  /** Calls `wake` on each `done:<id>` message until the returned function is called. */
  listen(id: string, wake: () => void): () => void {
    let wakes = this.listeners.get(id);
    if (wakes === undefined) {
      wakes = new Set();
      this.listeners.set(id, wakes);
    }
    wakes.add(wake);
    return () => {
      wakes.delete(wake);
      if (wakes.size === 0 && this.listeners.get(id) === wakes) this.listeners.delete(id);
    };
  }

  /**
   * Makes sure the subscription is live. Resolves to its generation, a new
   * number after each new subscription (messages may have been missed
   * before it), or null when there is none: the server refused it, or it
   * could not be opened; the caller polls.
   */
  ensure(): Promise<number | null> {
    if (this.closed || this.refused) return Promise.resolve(null);
    if (this.live !== undefined) return Promise.resolve(this.generation);
    if (this.opening === undefined) {
      if (Date.now() < this.retryAt) return Promise.resolve(null);
      const opening = this.subscribe();
      this.opening = opening;
      void opening.finally(() => {
        if (this.opening === opening) this.opening = undefined;
      });
    }
    return this.opening;
  }

  /** The server refused a registration (`wait.lua`): waits of this client poll from now on. */
  refuse(): void {
    this.refused = true;
    this.drop();
  }

  /** Closes the subscription and wakes every wait (whose next read then fails). */
  close(): void {
    this.closed = true;
    this.drop();
    for (const wakes of this.listeners.values()) for (const wake of wakes) wake();
  }

  private drop(): void {
    const live = this.live;
    this.live = undefined;
    live?.close();
  }

  private async subscribe(): Promise<number | null> {
    let connection: SubscriberConnection | undefined;
    try {
      connection = await this.open();
      await connection.subscribe(this.channel, (message) => this.dispatch(message));
    } catch (error) {
      connection?.close();
      if (isRefusal(error)) this.refused = true;
      else if (!(error instanceof NotConnectedError))
        this.retryAt = Date.now() + RESUBSCRIBE_AFTER_MS;
      return null;
    }
    if (this.closed || this.refused) {
      connection.close();
      return null;
    }
    const live = connection;
    this.live = live;
    this.generation += 1;
    live.onEnd(() => {
      if (this.live === live) this.live = undefined;
    });
    return this.generation;
  }

  private dispatch(message: string): void {
    if (!message.startsWith('done:')) return;
    const wakes = this.listeners.get(message.slice('done:'.length));
    if (wakes !== undefined) for (const wake of wakes) wake();
  }
}

/** What one wait does against Redis. */
export interface WaitCalls<Status> {
  /** Reads the job's state (`status.lua`). */
  readStatus(): Promise<Status>;
  /** Whether `status` ends the wait. */
  ended(status: Status): boolean;
  /** Registers the wait until `deadlineMs` (`wait.lua`). */
  register(deadlineMs: number): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until `calls.ended` says a status read ends the wait, or until
 * `deadline` (ms since the epoch; `Infinity` waits as long as it takes), and
 * resolves to the last status read.
 */
export async function waitForEnd<Status>(
  events: EventSubscription,
  id: string,
  deadline: number,
  calls: WaitCalls<Status>,
): Promise<Status> {
  // Set by a `done:` message; cleared before each read, so a message that
  // comes while a read is on its way is not lost.
  let woken = false;
  let wakeUp: (() => void) | undefined;
  const unlisten = events.listen(id, () => {
    woken = true;
    wakeUp?.();
  });
  try {
    let registered: { generation: number; until: number } | undefined;
    let pause = POLL_FIRST_MS;
    // Set when the pause before the next read runs to the deadline: that read is the last.
    let last = false;
    for (;;) {
      const now = Date.now();
      let generation = !last && now < deadline ? await events.ensure() : null;
      if (generation !== null) {
        // Registered again after a new subscription, and before a
        // registration shorter than the wait runs out.
        const renew =
          registered === undefined ||
          registered.generation !== generation ||
          (registered.until < deadline && registered.until <= now + LONGEST_REGISTRATION_MS / 2);
        if (renew) {
          const until =
            now + Math.min(deadline - now, LONGEST_REGISTRATION_MS) + REGISTRATION_SLACK_MS;
          try {
            await calls.register(until);
            registered = { generation, until };
          } catch (error) {
            if (!isRefusal(error)) throw error;
            events.refuse();
            generation = null;
          }
        }
      }
      woken = false;
      const status = await calls.readStatus();
      if (calls.ended(status) || last) return status;
      const left = deadline - Date.now();
      if (left <= 0) return status;
      if (generation !== null) {
        if (!woken) {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = await new Promise<boolean>((resolve) => {
            wakeUp = () => resolve(false);
            timer = setTimeout(() => resolve(true), Math.min(FALLBACK_POLL_MS, left));
          });
          clearTimeout(timer);
          wakeUp = undefined;
          last = timedOut && left <= FALLBACK_POLL_MS;
        }
      } else {
        last = left <= pause;
        await sleep(Math.min(pause, left));
        pause = Math.min(pause * 2, POLL_MAX_MS);
      }
    }
  } finally {
    unlisten();
  }
}
