/**
 * Running the embedded Lua scripts (SPEC.md section 10) as node-redis
 * scripts: node-redis sends `EVALSHA` with the SHA-1 of the source and, when
 * Redis answers `NOSCRIPT`, the same call once as `EVAL` (which also caches
 * the script). The `NOSCRIPT` call ran nothing, so nothing is written twice.
 */
import { defineScript, type CommandParser } from 'redis';

import { SCRIPT_SOURCES } from './scripts.generated.js';

/** The scripts of spec/scripts this client runs, by name. */
export type ScriptName = 'enqueue' | 'status' | 'abort' | 'wait' | 'inspect' | 'held' | 'scheduled';

/** One argument of a script call. */
export type ScriptArgument = string | Buffer;

/** The KEYS and ARGV of one script call. */
export interface ScriptCall {
  keys: string[];
  argv: ScriptArgument[];
}

/** A producer script for node-redis: any number of KEYS, then ARGV; the reply untouched. */
function producerScript(source: string) {
  return defineScript({
    SCRIPT: source,
    parseCommand(parser: CommandParser, keys: string[], argv: ScriptArgument[]) {
      parser.pushKeysLength(keys);
      parser.pushVariadic(argv);
    },
    // No transform: the reply is the script's (node-redis's own EVAL declares it so).
    transformReply: undefined as unknown as () => unknown,
  });
}

/** The `scripts` option of node-redis's `createClient` and `createCluster`. */
export const SCRIPTS = {
  enqueue: producerScript(SCRIPT_SOURCES.enqueue),
  status: producerScript(SCRIPT_SOURCES.status),
  abort: producerScript(SCRIPT_SOURCES.abort),
  wait: producerScript(SCRIPT_SOURCES.wait),
  // Spec 1.1, read-only (SPEC.md section 20).
  inspect: producerScript(SCRIPT_SOURCES.inspect),
  held: producerScript(SCRIPT_SOURCES.held),
  scheduled: producerScript(SCRIPT_SOURCES.scheduled),
};

/** What the runner needs of a connection: the scripts of `SCRIPTS` as methods. */
export type ScriptConnection = Record<
  ScriptName,
  (keys: string[], argv: ScriptArgument[]) => Promise<unknown>
>;

/** Runs scripts by name on one connection. */
export class ScriptRunner {
  private readonly connection: ScriptConnection;
  /** Scripts that ran on this connection, so Redis has them cached. */
  private readonly loaded = new Set<ScriptName>();

  constructor(connection: ScriptConnection) {
    this.connection = connection;
  }

  /** Runs the script `name` with `keys` and `argv`; the reply is the script's, untouched. */
  async run(name: ScriptName, keys: string[], argv: ScriptArgument[]): Promise<unknown> {
    const reply = await this.connection[name](keys, argv);
    this.loaded.add(name);
    return reply;
  }

  /**
   * Runs the script `name` once per call, pipelined, and settles every call
   * (a caller may send the failed ones again). The first time a script runs
   * on this connection, the first call goes alone: were Redis missing the
   * script, every call of the pipeline would fail with `NOSCRIPT` and send
   * its arguments twice.
   */
  async runMany(
    name: ScriptName,
    calls: readonly ScriptCall[],
  ): Promise<Array<PromiseSettledResult<unknown>>> {
    const [first, ...rest] = calls;
    if (first === undefined) return [];
    if (!this.loaded.has(name)) {
      const [reply] = await Promise.allSettled([this.run(name, first.keys, first.argv)]);
      const replies = await Promise.allSettled(
        rest.map((call) => this.run(name, call.keys, call.argv)),
      );
      return [reply as PromiseSettledResult<unknown>, ...replies];
    }
    return Promise.allSettled(calls.map((call) => this.run(name, call.keys, call.argv)));
  }
}
