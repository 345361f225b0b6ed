/**
 * The client's connection to Redis (SPEC.md section 14): opening a
 * node-redis client for one server or a cluster (TLS with a private CA
 * when asked), bounding how long a connect and each reply may take, sending
 * a call whose connection broke once more on a new connection, and mapping
 * node-redis failures to the client's typed errors.
 *
 * node-redis's own reconnecting is off: a connection whose socket closes is
 * finished, and the next call opens a new one. That makes "send once more"
 * exact (the second send goes out on a connection that did not exist when
 * the first failed) and keeps a Redis that is down from being retried in
 * the background. A call that timed out is not sent again; its connection
 * is dropped, since a reply that late means the connection cannot be
 * trusted, and the calls that shared it count as broken.
 *
 * A client that waits for results also opens one connection in subscribe
 * mode (SPEC.md section 15, `openSubscriber`): a `duplicate()` of the
 * command connection, or on a cluster a connection to the node of the URL
 * (a subscriber may listen on any node). It does not reconnect either: when
 * it ends, its owner subscribes again on a new one.
 */
import { readFileSync } from 'node:fs';

import {
  createClient as createRedisClient,
  createCluster as createRedisCluster,
  ErrorReply,
  ReconnectStrategyError,
  RESP_TYPES,
} from 'redis';

import {
  ArdiqError,
  AuthenticationError,
  ConnectionError,
  InvalidOptionError,
  NotConnectedError,
} from './errors.js';
import {
  SCRIPTS,
  ScriptRunner,
  type ScriptArgument,
  type ScriptCall,
  type ScriptConnection,
  type ScriptName,
} from './scripts.js';

/** How long to wait for a connection, in ms, unless told otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** How long to wait for each reply, in ms, unless told otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/** How to reach Redis: the checked options of `createClient`. */
export interface ConnectionSettings {
  url: string;
  cluster: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** TLS socket options beyond `tls: true` (a private CA, skipping verification). */
  tls: { ca?: string | Buffer; rejectUnauthorized?: boolean } | undefined;
}

/** What a connection needs of node-redis (one server or a cluster) besides scripts. */
interface RedisHandle {
  connect(): Promise<unknown>;
  ping(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** What a subscriber needs of node-redis: one client in subscribe mode. */
interface PubSubHandle {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => unknown): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

/** One node-redis client, the scripts it has run, and how to make a subscriber like it. */
interface Session {
  redis: RedisHandle;
  scripts: ScriptRunner;
  /** A read-only command on the node of `key`'s slot; bulk replies as `Buffer`s. */
  command: (key: string, args: string[]) => Promise<unknown>;
  subscriber: () => PubSubHandle;
}

/** A connection in subscribe mode, for pub/sub messages (see `Connection.openSubscriber`). */
export interface SubscriberConnection {
  /** Subscribes to `channel`; `listener` gets each message on it as text. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Calls `listener` once when the connection has ended (closed or broken). */
  onEnd(listener: () => void): void;
  /** Closes the connection. */
  close(): void;
}

/** Redis did not reply within the command timeout (internal: callers get `ConnectionError`). */
class ReplyTimeout extends Error {}

/** Redis answered a command with an error that is not about credentials. */
export class RedisCommandError extends ArdiqError {
  override readonly specType = 'RedisError';
}

// What node-redis and Node's sockets say when a connection that was open is gone.
const BROKEN_NAMES = new Set([
  'SocketClosedUnexpectedlyError',
  'ClientClosedError',
  'ClientOfflineError',
  'DisconnectsClientError',
]);
const BROKEN_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED']);

function errorCode(error: unknown): string {
  const code: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

/** Whether `error` means the connection broke under a call (reset, closed, broken pipe). */
function brokeConnection(error: unknown): boolean {
  if (error instanceof ReconnectStrategyError) return brokeConnection(error.originalError);
  return (
    error instanceof Error &&
    (BROKEN_NAMES.has(error.constructor.name) || BROKEN_CODES.has(errorCode(error)))
  );
}

/** Whether a connect failed in TLS: the handshake, or a certificate that does not verify. */
function isTlsFailure(error: unknown): boolean {
  const code = errorCode(error);
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_|ERR_SSL_|ERR_TLS_/.test(code) ||
    (error instanceof Error && /\bSSL\b|\bTLS\b/.test(error.message))
  );
}

/** Maps a failure of node-redis to the client's typed errors. */
export function translateRedisError(error: unknown): Error {
  if (error instanceof ArdiqError) return error;
  // The reconnect strategy hands back the connection's failure wrapped in this.
  if (error instanceof ReconnectStrategyError) return translateRedisError(error.originalError);
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ErrorReply) {
    if (/^(WRONGPASS|NOAUTH)\b/.test(message)) {
      return new AuthenticationError(`Redis refused the credentials: ${message}`, {
        cause: error,
      });
    }
    // A server still loading its data after a restart does not serve yet (SPEC.md section 14).
    if (/^LOADING\b/.test(message)) {
      return new ConnectionError(`Redis is unreachable: ${message}`, { cause: error });
    }
    return new RedisCommandError(message, { cause: error });
  }
  if (error instanceof Error && error.constructor.name === 'ConnectionTimeoutError') {
    return new ConnectionError(`Redis is unreachable: timed out: ${message}`, { cause: error });
  }
  if (isTlsFailure(error)) {
    const code = errorCode(error);
    return new ConnectionError(
      `Redis is unreachable: TLS failed: ${message}${code === '' ? '' : ` (${code})`}`,
      { cause: error },
    );
  }
  return new ConnectionError(`Redis is unreachable: ${message}`, { cause: error });
}

/** Rejects with `onTimeout()` unless `promise` settles within `ms`. */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Reads a PEM file of CA certificates for `caFile`; a file that cannot be read is an option error. */
export function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidOptionError(`invalid caFile ${JSON.stringify(path)}: ${String(error)}`, {
      cause: error,
    });
  }
}

/** The connection of one `ArdiqClient`: opened at `createClient`, again after it broke. */
export class Connection {
  private readonly settings: ConnectionSettings;
  /** The session calls go to, or the one being opened; undefined after one broke. */
  private current: Promise<Session> | undefined;
  /** The session `current` resolved to. */
  private live: Session | undefined;
  private closed = false;

  constructor(settings: ConnectionSettings) {
    this.settings = settings;
  }

  /** Connects and checks that Redis answers and accepts the credentials. */
  async open(): Promise<void> {
    await this.session();
  }

  /** Runs the script `name` once, and once more on a new connection if its connection broke. */
  async run(name: ScriptName, keys: string[], argv: ScriptArgument[]): Promise<unknown> {
    const [result] = await this.runMany(name, [{ keys, argv }]);
    return result;
  }

  /**
   * Runs the script `name` once per call, pipelined; the calls whose
   * connection broke go once more on a new connection. Throws the first
   * call's error that remains.
   */
  async runMany(name: ScriptName, calls: readonly ScriptCall[]): Promise<unknown[]> {
    if (calls.length === 0) return [];
    let session = await this.session();
    const results = await session.scripts.runMany(name, calls);
    const broken = results.flatMap((result, i) =>
      result.status === 'rejected' && brokeConnection(result.reason) ? [i] : [],
    );
    if (broken.length > 0) {
      this.drop(session);
      session = await this.session();
      const again = await session.scripts.runMany(
        name,
        broken.map((i) => calls[i] as ScriptCall),
      );
      broken.forEach((i, j) => {
        results[i] = again[j] as PromiseSettledResult<unknown>;
      });
    }
    return results.map((result) => {
      if (result.status === 'fulfilled') return result.value;
      throw this.failure(result.reason);
    });
  }

  /**
   * Runs a read-only command (`args`, on the node of `key`'s slot), once more
   * on a new connection if its connection broke.
   */
  async command(key: string, args: string[]): Promise<unknown> {
    let session = await this.session();
    try {
      return await session.command(key, args);
    } catch (error) {
      if (!brokeConnection(error)) throw this.failure(error);
      this.drop(session);
      session = await this.session();
      try {
        return await session.command(key, args);
      } catch (again) {
        throw this.failure(again);
      }
    }
  }

  /**
   * Opens a connection in subscribe mode to the same Redis, bounded by the
   * connect timeout; its `subscribe` by the command timeout. Throws the
   * client's typed errors: `RedisCommandError` when the server refuses the
   * subscription (an ACL without the channel or `SUBSCRIBE`).
   */
  async openSubscriber(): Promise<SubscriberConnection> {
    const { connectTimeoutMs, commandTimeoutMs } = this.settings;
    const session = await this.session();
    const redis = session.subscriber();
    // node-redis emits every socket error (without a listener Node would
    // crash); since it does not reconnect, an error ends the connection.
    const ended = new Promise<void>((resolve) => {
      redis.on('error', () => resolve());
      redis.on('end', resolve);
    });
    const connecting = redis.connect();
    try {
      await within(
        connecting,
        connectTimeoutMs,
        () =>
          new ConnectionError(
            `Redis is unreachable: timed out: no connection within the connect timeout of ${connectTimeoutMs} ms`,
          ),
      );
    } catch (error) {
      redis.destroy();
      connecting.catch(() => {});
      throw translateRedisError(error);
    }
    return {
      subscribe: async (channel, listener) => {
        try {
          await within(
            redis.subscribe(channel, (message) => listener(message)),
            commandTimeoutMs,
            () =>
              new ConnectionError(
                `Redis is unreachable: timed out: no reply within the command timeout of ${commandTimeoutMs} ms`,
              ),
          );
        } catch (error) {
          throw translateRedisError(error);
        }
      },
      onEnd: (listener) => void ended.then(listener),
      close: () => redis.destroy(),
    };
  }

  /** Closes the connection for good; calls afterwards throw `NotConnectedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    if (current === undefined) return;
    const session = await current.catch(() => undefined);
    if (session === undefined) return;
    try {
      await session.redis.close();
    } catch {
      // The connection is gone already: closing it is done.
      session.redis.destroy();
    }
  }

  private failure(reason: unknown): Error {
    if (this.closed) return new NotConnectedError('the client is closed', { cause: reason });
    if (reason instanceof ReplyTimeout)
      return new ConnectionError(reason.message, { cause: reason });
    return translateRedisError(reason);
  }

  /** The session to send to: the current one, or a new one opened now. */
  private session(): Promise<Session> {
    if (this.closed) return Promise.reject(new NotConnectedError('the client is closed'));
    if (this.current === undefined) {
      const opening = this.connect().then((session) => {
        this.live = session;
        return session;
      });
      this.current = opening;
      // A failed connect is not kept: the next call tries again.
      opening.catch(() => {
        if (this.current === opening) this.current = undefined;
      });
    }
    return this.current;
  }

  /** Drops the connection of `session`; the next call opens a new one. */
  private drop(session: Session): void {
    if (this.live === session) {
      this.live = undefined;
      this.current = undefined;
    }
    session.redis.destroy();
  }

  private async connect(): Promise<Session> {
    const { connectTimeoutMs } = this.settings;
    const session = this.createSession();
    // node-redis emits every socket error; without a listener Node would crash.
    session.redis.on('error', () => {});
    const ready = (async () => {
      await session.redis.connect();
      // A server that wants a password lets an anonymous client connect and
      // refuses its first command: send one now so that it fails here.
      await session.redis.ping();
    })();
    try {
      await within(
        ready,
        connectTimeoutMs,
        () =>
          new ConnectionError(
            `Redis is unreachable: timed out: no connection within the connect timeout of ${connectTimeoutMs} ms`,
          ),
      );
    } catch (error) {
      session.redis.destroy();
      ready.catch(() => {});
      throw this.closed
        ? new NotConnectedError('the client is closed')
        : translateRedisError(error);
    }
    if (this.closed) {
      session.redis.destroy();
      throw new NotConnectedError('the client is closed');
    }
    return session;
  }

  private createSession(): Session {
    const { url, cluster, connectTimeoutMs, commandTimeoutMs, tls } = this.settings;
    // A fresh object per node-redis client: node-redis writes the URL's host and port into it.
    const socket = () => ({
      connectTimeout: connectTimeoutMs,
      // A connection that fails is finished; the next call opens a new one (see the module doc).
      reconnectStrategy: (_retries: number, cause: Error) => cause,
      ...(tls ?? {}),
    });
    // Fail at once while not connected instead of queueing commands.
    const disableOfflineQueue = true;
    const buffers = { [RESP_TYPES.BLOB_STRING]: Buffer };
    let redis: RedisHandle;
    let typed: ScriptConnection;
    let command: (key: string, args: string[]) => Promise<unknown>;
    let subscriber: () => PubSubHandle;
    if (cluster) {
      const client = createRedisCluster({
        rootNodes: [{ url, socket: socket(), disableOfflineQueue }],
        defaults: clusterDefaults(url, socket(), disableOfflineQueue),
        scripts: SCRIPTS,
      });
      redis = client;
      typed = client.withTypeMapping(buffers);
      const raw = client.withTypeMapping(buffers);
      command = (key, args) => raw.sendCommand(key, true, args);
      // Messages on a cluster reach every node: the root node serves.
      subscriber = () => createRedisClient({ url, socket: socket(), disableOfflineQueue });
    } else {
      const client = createRedisClient({
        url,
        socket: socket(),
        disableOfflineQueue,
        scripts: SCRIPTS,
      });
      redis = client;
      typed = client.withTypeMapping(buffers);
      const raw = client.withTypeMapping(buffers);
      command = (_key, args) => raw.sendCommand(args);
      subscriber = () => client.duplicate();
    }
    const timedOut = () => {
      this.drop(session);
      return new ReplyTimeout(
        `Redis is unreachable: timed out: no reply within the command timeout of ${commandTimeoutMs} ms`,
      );
    };
    // One timeout covers a call and the EVAL that node-redis sends after a NOSCRIPT.
    const timed: ScriptConnection = {
      enqueue: (keys, argv) => within(typed.enqueue(keys, argv), commandTimeoutMs, timedOut),
      status: (keys, argv) => within(typed.status(keys, argv), commandTimeoutMs, timedOut),
      abort: (keys, argv) => within(typed.abort(keys, argv), commandTimeoutMs, timedOut),
      wait: (keys, argv) => within(typed.wait(keys, argv), commandTimeoutMs, timedOut),
      inspect: (keys, argv) => within(typed.inspect(keys, argv), commandTimeoutMs, timedOut),
      held: (keys, argv) => within(typed.held(keys, argv), commandTimeoutMs, timedOut),
      scheduled: (keys, argv) => within(typed.scheduled(keys, argv), commandTimeoutMs, timedOut),
    };
    const session: Session = {
      redis,
      scripts: new ScriptRunner(timed),
      command: (key, args) => within(command(key, args), commandTimeoutMs, timedOut),
      subscriber,
    };
    return session;
  }
}

/**
 * What every connection to a cluster's nodes needs: node-redis takes nothing
 * from the root node's URL for the nodes it discovers, so the credentials
 * and TLS are passed again.
 */
function clusterDefaults<Socket extends object>(
  url: string,
  socket: Socket,
  disableOfflineQueue: boolean,
): { username?: string; password?: string; disableOfflineQueue: boolean; socket: Socket } {
  const parsed = new URL(url);
  const defaults: {
    username?: string;
    password?: string;
    disableOfflineQueue: boolean;
    socket: Socket;
  } = {
    disableOfflineQueue,
    socket: parsed.protocol === 'rediss:' ? { ...socket, tls: true } : socket,
  };
  if (parsed.username !== '') defaults.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') defaults.password = decodeURIComponent(parsed.password);
  return defaults;
}
