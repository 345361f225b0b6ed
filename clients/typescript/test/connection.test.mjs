// Connections (SPEC.md section 14): a producer rides out a Redis restart,
// sends a call whose connection broke once more, never sends a timed-out call
// again, bounds how long it waits to connect, and reports a Redis still
// loading its data as ConnectionError.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ConnectionError,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  InvalidOptionError,
  createClient,
} from '../dist/index.js';
import { LoadingRedis, RestartableRedis } from './servers.mjs';
import { redisUrl } from './support.mjs';

/** A client of `queue` on `url`, closed after the test. */
async function clientOf(t, url, options = {}) {
  const client = await createClient({ url, queue: 'connection', ...options });
  t.after(() => client.close());
  return client;
}

/** Redis holds every write (and every script that writes) until `unpause` runs. */
async function pauseWrites(inspector) {
  await inspector.sendCommand(['CLIENT', 'PAUSE', '60000', 'WRITE']);
  return () => inspector.sendCommand(['CLIENT', 'UNPAUSE']);
}

/** The id of the client whose EVALSHA Redis holds; waits until there is one. */
async function pausedClientId(inspector) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const list = String(await inspector.sendCommand(['CLIENT', 'LIST']));
    for (const line of list.split('\n')) {
      const fields = Object.fromEntries(line.split(' ').map((field) => field.split('=')));
      if (fields.cmd === 'evalsha' && fields.flags?.includes('b')) return String(fields.id);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no EVALSHA was held by the pause');
}

async function connectionsReceived(inspector) {
  const stats = String(await inspector.sendCommand(['INFO', 'stats']));
  const match = /total_connections_received:(\d+)/.exec(stats);
  assert.ok(match, 'INFO stats names total_connections_received');
  return Number(match[1]);
}

describe('reconnecting', () => {
  test('a client rides out a Redis restart', async (t) => {
    const redis = await RestartableRedis.start(t);
    const client = await clientOf(t, redis.url);
    assert.equal((await client.enqueue('t')).outcome, 'queued');
    await redis.stop();
    await assert.rejects(
      client.enqueue('t'),
      (error) =>
        error instanceof ConnectionError &&
        /^Redis is unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+$/.test(error.message),
    );
    await assert.rejects(client.job('any').status(), ConnectionError);
    await redis.start();
    const job = await client.enqueue('t');
    assert.equal(job.outcome, 'queued');
    assert.equal(await job.status(), 'queued');
    const jobs = await client.enqueueMany([{ task: 't' }, { task: 't', delayMs: 60_000 }]);
    assert.deepEqual(
      jobs.map((each) => each.outcome),
      ['queued', 'scheduled'],
    );
    assert.equal(await jobs[1].abort(), 'aborted');
  });

  test('a call while Redis still loads its data is a ConnectionError', async (t) => {
    const redis = await LoadingRedis.start(t, 4000);
    const client = await clientOf(t, redis.url);
    assert.equal((await client.enqueue('t')).outcome, 'queued');
    await redis.reload();
    await assert.rejects(
      client.enqueue('t'),
      (error) =>
        error instanceof ConnectionError && /^Redis is unreachable: LOADING\b/.test(error.message),
    );
  });

  test('a call whose connection breaks is sent once more on a new connection', async (t) => {
    const redis = await RestartableRedis.start(t);
    const inspector = await redis.inspector(t);
    const client = await clientOf(t, redis.url);
    const unpause = await pauseWrites(inspector);
    const sending = client.enqueue('t', [], { jobId: 'once' });
    await inspector.sendCommand(['CLIENT', 'KILL', 'ID', await pausedClientId(inspector)]);
    await unpause();
    assert.equal((await sending).outcome, 'queued');
    assert.equal(await inspector.xLen('ardiq:{connection}:stream:5'), 1);
  });

  test('every call of a batch whose connection breaks is sent once more', async (t) => {
    const redis = await RestartableRedis.start(t);
    const inspector = await redis.inspector(t);
    const client = await clientOf(t, redis.url);
    await client.enqueue('warm'); // the script is loaded, so the batch goes out at once
    const unpause = await pauseWrites(inspector);
    const sending = client.enqueueMany(Array.from({ length: 3 }, () => ({ task: 't' })));
    await inspector.sendCommand(['CLIENT', 'KILL', 'ID', await pausedClientId(inspector)]);
    await unpause();
    const jobs = await sending;
    assert.deepEqual(
      jobs.map((job) => job.outcome),
      ['queued', 'queued', 'queued'],
    );
    assert.equal(await inspector.xLen('ardiq:{connection}:stream:5'), 4);
  });
});

describe('timeouts', () => {
  test('the defaults are 2 s to connect and 5 s for a reply', () => {
    assert.equal(DEFAULT_CONNECT_TIMEOUT_MS, 2_000);
    assert.equal(DEFAULT_COMMAND_TIMEOUT_MS, 5_000);
  });

  test('a call without a reply in time is ConnectionError and is not sent again', async (t) => {
    const redis = await RestartableRedis.start(t);
    const inspector = await redis.inspector(t);
    const client = await clientOf(t, redis.url, { commandTimeoutMs: 200 });
    const before = await connectionsReceived(inspector);
    const unpause = await pauseWrites(inspector);
    try {
      await assert.rejects(
        client.enqueue('t'),
        (error) =>
          error instanceof ConnectionError &&
          error.message ===
            'Redis is unreachable: timed out: no reply within the command timeout of 200 ms',
      );
      // Sending it again would have taken a new connection: a timed-out one is dropped.
      assert.equal(await connectionsReceived(inspector), before);
    } finally {
      await unpause();
    }
    assert.equal((await client.enqueue('t')).outcome, 'queued');
  });

  test('a connect that gets no answer is ConnectionError after the connect timeout', async (t) => {
    const redis = await RestartableRedis.start(t);
    redis.freeze();
    t.after(() => redis.thaw());
    await assert.rejects(
      createClient({ url: redis.url, connectTimeoutMs: 200 }),
      (error) =>
        error instanceof ConnectionError &&
        error.message ===
          'Redis is unreachable: timed out: no connection within the connect timeout of 200 ms',
    );
  });

  test('a client whose Redis stops answering connects again once it answers', async (t) => {
    const redis = await RestartableRedis.start(t);
    const client = await clientOf(t, redis.url, { commandTimeoutMs: 200, connectTimeoutMs: 200 });
    redis.freeze();
    try {
      await assert.rejects(client.enqueue('t'), /timed out: no reply within the command timeout/);
      await assert.rejects(
        client.enqueue('t'),
        /timed out: no connection within the connect timeout/,
      );
    } finally {
      redis.thaw();
    }
    assert.equal((await client.enqueue('t')).outcome, 'queued');
  });

  test('timeouts that are not positive integers of ms are refused', async () => {
    for (const name of ['connectTimeoutMs', 'commandTimeoutMs']) {
      for (const value of [0, -1, 1.5, Infinity, '100', true]) {
        await assert.rejects(
          createClient({ url: redisUrl(), [name]: value }),
          InvalidOptionError,
          `${name} ${String(value)}`,
        );
      }
    }
  });
});
