/**
 * Running the embedded Lua scripts: `EVALSHA` with the SHA-1 of the source,
 * falling back to `EVAL` (which also caches the script) when Redis answers
 * `NOSCRIPT` (SPEC.md section 10).
 */
import { createHash } from 'node:crypto';

/** The scripts of spec/scripts by name, as `SCRIPT_SOURCES` holds them. */
export type ScriptName = 'enqueue' | 'status' | 'abort';

/** One argument of a script call. */
export type ScriptArgument = string | Buffer;

/** The KEYS and ARGV of one script call. */
export interface ScriptCall {
  keys: string[];
  argv: ScriptArgument[];
}

/** What the runner needs of a Redis connection. */
export interface ScriptConnection {
  evalSha(sha: string, options: { keys: string[]; arguments: ScriptArgument[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: ScriptArgument[] }): Promise<unknown>;
}

/** Runs scripts by name on one connection. */
export class ScriptRunner {
  private readonly connection: ScriptConnection;
  private readonly scripts: ReadonlyMap<ScriptName, { source: string; sha: string }>;
  /** Scripts that ran on this connection, so Redis has them cached. */
  private readonly loaded = new Set<ScriptName>();

  constructor(connection: ScriptConnection, sources: Readonly<Record<ScriptName, string>>) {
    this.connection = connection;
    const scripts = new Map<ScriptName, { source: string; sha: string }>();
    for (const name of ['enqueue', 'status', 'abort'] as const) {
      const source = sources[name];
      scripts.set(name, { source, sha: createHash('sha1').update(source).digest('hex') });
    }
    this.scripts = scripts;
  }

  /** The SHA-1 Redis knows the script `name` by. */
  sha(name: ScriptName): string {
    return this.script(name).sha;
  }

  /** Runs the script `name` with `keys` and `argv`; the reply is the script's, untouched. */
  async run(name: ScriptName, keys: string[], argv: ScriptArgument[]): Promise<unknown> {
    const { source, sha } = this.script(name);
    const options = { keys, arguments: argv };
    let reply: unknown;
    try {
      reply = await this.connection.evalSha(sha, options);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      reply = await this.connection.eval(source, options);
    }
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

  private script(name: ScriptName): { source: string; sha: string } {
    const script = this.scripts.get(name);
    if (script === undefined) throw new Error(`no embedded script ${name}`);
    return script;
  }
}
