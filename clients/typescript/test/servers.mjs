// Redis servers a test owns (never the shared REDIS_URL): one it can stop and
// start again on the same port, and one that speaks TLS with a certificate of
// a private CA made here with `openssl`.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';

import { createClient as createRedisClient } from 'redis';

import { closedPort } from './support.mjs';

/** Resolves once the server answers PING on `port` (over TLS with `tls` options). */
async function answersPing(port, tls) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = await new Promise((resolve) => {
      const socket = tls
        ? connectTls({ port, host: '127.0.0.1', ...tls })
        : connectTcp({ port, host: '127.0.0.1' });
      socket.once(tls ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
    });
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts `redis-server` with `args`; resolves to its process once it answers. */
async function spawnRedis(port, args, tls) {
  const directory = mkdtempSync(join(tmpdir(), 'ardiq-ts-redis-'));
  const process = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory, ...args],
    { stdio: 'ignore' },
  );
  const exited = once(process, 'exit');
  try {
    await Promise.race([
      answersPing(port, tls),
      exited.then(([code]) => {
        throw new Error(`redis-server exited with code ${code}`);
      }),
    ]);
  } catch (error) {
    process.kill('SIGKILL');
    throw error;
  }
  return { process, exited, directory };
}

async function stopRedis(server) {
  if (server.process.exitCode === null && server.process.signalCode === null) {
    // A frozen server would hold SIGTERM until it runs again.
    server.process.kill('SIGCONT');
    server.process.kill('SIGTERM');
    await server.exited;
  }
  rmSync(server.directory, { recursive: true, force: true });
}

/** A redis-server on a port of its own, which the test stops and starts again. */
export class RestartableRedis {
  constructor(port) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}/0`;
    this.server = null;
  }

  /** Starts a server on a free port; `t.after` stops it. */
  static async start(t) {
    const redis = new RestartableRedis(await closedPort());
    await redis.start();
    t.after(() => redis.stop());
    return redis;
  }

  async start() {
    this.server = await spawnRedis(this.port, ['--port', String(this.port)]);
  }

  /** Stops the server (SIGTERM; it persists nothing). */
  async stop() {
    if (this.server !== null) await stopRedis(this.server);
    this.server = null;
  }

  /** Freezes the process: the kernel still accepts connections, nothing answers. */
  freeze() {
    this.server?.process.kill('SIGSTOP');
  }

  thaw() {
    this.server?.process.kill('SIGCONT');
  }

  /** A plain node-redis connection to this server, closed by `t.after`. */
  async inspector(t) {
    const redis = createRedisClient({ url: this.url });
    redis.on('error', () => {});
    await redis.connect();
    t.after(() => redis.destroy());
    return redis;
  }
}

function openssl(...args) {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A self-signed CA in `directory`: `{ cert, key }` paths. */
function makeCa(directory, name) {
  const ca = { cert: join(directory, `${name}.pem`), key: join(directory, `${name}.key`) };
  openssl(
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-keyout', ca.key, '-out', ca.cert, '-subj', `/CN=ArdiQ test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ); // prettier-ignore
  return ca;
}

/** A certificate for 127.0.0.1 and localhost signed by `ca`: `{ cert, key }` paths. */
function signServerCertificate(ca, directory) {
  const cert = join(directory, 'server.pem');
  const key = join(directory, 'server.key');
  const request = join(directory, 'server.csr');
  const extensions = join(directory, 'server.ext');
  writeFileSync(
    extensions,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', request, '-subj', '/CN=localhost',
  ); // prettier-ignore
  openssl(
    'x509', '-req', '-in', request, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '2', '-out', cert, '-extfile', extensions,
  ); // prettier-ignore
  return { cert, key };
}

/**
 * A TLS-only redis-server whose certificate `ca` signed (`otherCa` signed
 * nothing of it). Resolves to `{ url, ca, otherCa, stop }`.
 */
export async function startTlsRedis() {
  const directory = mkdtempSync(join(tmpdir(), 'ardiq-ts-tls-'));
  const ca = makeCa(directory, 'ca');
  const otherCa = makeCa(directory, 'other-ca');
  const { cert, key } = signServerCertificate(ca, directory);
  const port = await closedPort();
  const args = [
    '--port', '0', '--tls-port', String(port), '--tls-cert-file', cert, '--tls-key-file', key,
    '--tls-ca-cert-file', ca.cert, '--tls-auth-clients', 'no',
  ]; // prettier-ignore
  const server = await spawnRedis(port, args, { rejectUnauthorized: false });
  return {
    url: `rediss://127.0.0.1:${port}/0`,
    ca,
    otherCa,
    async stop() {
      await stopRedis(server);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** What the server on `port` answers a bare `PING` with, or `null` while nothing listens. */
function pingReply(port) {
  return new Promise((resolve) => {
    const socket = connectTcp({ port, host: '127.0.0.1' });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', () => resolve(null));
  });
}

/**
 * A redis-server that holds `keys` small keys in its RDB and can be started
 * again still loading them: at 300 µs a key, answering clients every KiB
 * loaded, so that they get `LOADING` meanwhile.
 */
export class LoadingRedis {
  constructor(port, server) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}/0`;
    this.server = server;
  }

  /** Starts a server on a free port and saves `keys` keys; `t.after` stops it. */
  static async start(t, keys) {
    const port = await closedPort();
    const redis = new LoadingRedis(port, await spawnRedis(port, ['--port', String(port)]));
    t.after(() => stopRedis(redis.server));
    const direct = createRedisClient({ url: redis.url });
    direct.on('error', () => {});
    await direct.connect();
    const pairs = Array.from({ length: keys }, (_, i) => [`pad:${i}`, 'x']).flat();
    await direct.sendCommand(['MSET', ...pairs]);
    await direct.sendCommand(['SAVE']);
    direct.destroy();
    return redis;
  }

  /** Kills the server and starts it again on its directory; resolves once a PING gets `LOADING`. */
  async reload() {
    const { directory } = this.server;
    this.server.process.kill('SIGKILL');
    await this.server.exited;
    const process = spawn(
      'redis-server',
      [
        '--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no',
        '--dir', directory, '--key-load-delay', '300', '--loading-process-events-interval-bytes', '1024',
      ],
      { stdio: 'ignore' },
    ); // prettier-ignore
    this.server = { process, exited: once(process, 'exit'), directory };
    const deadline = Date.now() + 10_000;
    for (;;) {
      const reply = await pingReply(this.port);
      if (reply !== null) {
        if (!reply.startsWith('-LOADING')) {
          throw new Error(`redis-server answered ${JSON.stringify(reply)} before LOADING was seen`);
        }
        return;
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
