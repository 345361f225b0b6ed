// Waiting for results without polling (SPEC.md section 15): `result()`
// registers with wait.lua, reads the status once, again on each `done:<id>`
// message and every second anyway; every wait of a client shares one
// subscriber connection. The worker's side (finish.lua storing the result,
// then telling the waiters) is played by the test. Each test runs against a
// redis-server of its own, so `INFO commandstats` counts only this client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  FALLBACK_POLL_MS,
  JobAbortedError,
  SCRIPT_SOURCES,
  State,
  TimeoutError,
  createClient,
  encodeStatus,
  encodeValue,
} from '../dist/index.js';
import { RestartableRedis } from './servers.mjs';
import { freshQueue } from './support.mjs';

/** A client on a fresh queue of its own redis-server, and a plain connection to that server. */
async function ownServer(t) {
  const server = await RestartableRedis.start(t);
  const inspector = await server.inspector(t);
  const client = await createClient({ url: server.url, queue: freshQueue('wait') });
  t.after(() => client.close());
  // The scripts are cached, so every call below is one EVALSHA.
  await client.job('warm-up').status();
  await inspector.sendCommand(['SCRIPT', 'LOAD', SCRIPT_SOURCES.wait]);
  return { client, inspector };
}

/** Calls per command since the last `CONFIG RESETSTAT` (`INFO commandstats`). */
async function commandCalls(inspector) {
  const info = String(await inspector.sendCommand(['INFO', 'commandstats']));
  const calls = {};
  for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    calls[match[1]] = Number(match[2]);
  }
  return calls;
}

/**
 * The status reads (`status.lua`) and registrations (`wait.lua`) since the
 * last reset: wait.lua is the only script that runs ZCARD, and every other
 * EVALSHA of a waiting client is a status read.
 */
async function waitCalls(inspector) {
  const calls = await commandCalls(inspector);
  const registrations = calls.zcard ?? 0;
  return {
    registrations,
    statusReads: (calls.evalsha ?? 0) - registrations,
    evals: calls.eval ?? 0,
  };
}

/** Resolves once `check()` is true; fails after 10 s. */
async function until(check, what) {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How many connections are subscribed to the queue's events channel. */
async function subscribers(inspector, client) {
  const counts = await inspector.pubSubNumSub(client.keys.events);
  return Number(counts[client.keys.events]);
}

const registered = (inspector, client, id) => async () =>
  (await inspector.zScore(client.keys.waiters, id)) !== null;

/** A terminal Status record as a worker's finish.lua stores it. */
function completeRecord(value) {
  return Buffer.from(
    encodeStatus({
      specVersion: '1.0',
      state: State.COMPLETE,
      value: encodeValue(value),
      attempts: 1,
      enqueuedMs: 1,
      startedMs: 2,
      finishedMs: 3,
      workerId: 'w-1',
      task: 'add',
    }),
  );
}

/**
 * What finish.lua does for a job someone waits on: stores the result, and
 * for a wait that has not passed publishes `done:<id>` and removes it.
 * `tell: false` is a worker that did not know of the wait.
 */
async function finish(inspector, client, id, value, { tell = true } = {}) {
  await inspector.set(client.keys.job(id), completeRecord(value), { PX: 60_000 });
  if (tell && (await inspector.zScore(client.keys.waiters, id)) !== null) {
    await inspector.publish(client.keys.events, `done:${id}`);
    await inspector.zRem(client.keys.waiters, id);
  }
}

describe('a waiting result() is woken by the worker that ends the job', () => {
  test('one registration and exactly two status reads: when it starts and when told', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1, 2]);
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    const started = Date.now();
    const pending = job.result({ timeoutMs: 30_000 });
    await until(registered(inspector, client, job.id), 'the wait is registered');
    await finish(inspector, client, job.id, 3);
    assert.equal(await pending, 3);
    // Told within the first fallback period, so no fallback read happened.
    assert.ok(Date.now() - started < FALLBACK_POLL_MS, 'the test itself took a second');
    assert.deepEqual(await waitCalls(inspector), { registrations: 1, statusReads: 2, evals: 0 });
  });

  test('the registration lasts the wait plus a second, at most 61 s; it is removed when told', async (t) => {
    const { client, inspector } = await ownServer(t);
    const bounded = await client.enqueue('add', [1]);
    const unbounded = await client.enqueue('add', [2]);
    const before = Date.now();
    const pendings = [bounded.result({ timeoutMs: 10_000 }), unbounded.result()];
    await until(registered(inspector, client, bounded.id), 'the bounded wait is registered');
    await until(registered(inspector, client, unbounded.id), 'the unbounded wait is registered');
    const after = Date.now();
    const scores = await Promise.all(
      [bounded, unbounded].map(async (job) =>
        Number(await inspector.zScore(client.keys.waiters, job.id)),
      ),
    );
    assert.ok(scores[0] >= before + 11_000 && scores[0] <= after + 11_000, String(scores[0]));
    assert.ok(scores[1] >= before + 61_000 && scores[1] <= after + 61_000, String(scores[1]));
    await finish(inspector, client, bounded.id, 'a');
    await finish(inspector, client, unbounded.id, 'b');
    assert.deepEqual(await Promise.all(pendings), ['a', 'b']);
    assert.equal(await inspector.zCard(client.keys.waiters), 0);
  });

  test('many waits share one subscriber connection and each is told', async (t) => {
    const { client, inspector } = await ownServer(t);
    const jobs = await client.enqueueMany(
      Array.from({ length: 50 }, (_, i) => ({ task: 'add', args: [i] })),
    );
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    const pendings = jobs.map((job) => job.result({ timeoutMs: 30_000 }));
    for (const job of jobs) await until(registered(inspector, client, job.id), job.id);
    assert.equal(await subscribers(inspector, client), 1);
    await Promise.all(jobs.map((job, i) => finish(inspector, client, job.id, i * 10)));
    assert.deepEqual(
      await Promise.all(pendings),
      jobs.map((_, i) => i * 10),
    );
    assert.deepEqual(await waitCalls(inspector), {
      registrations: jobs.length,
      statusReads: 2 * jobs.length,
      evals: 0,
    });
    // A later wait uses the same subscription.
    const late = await client.enqueue('add', []);
    const pending = late.result({ timeoutMs: 30_000 });
    await until(registered(inspector, client, late.id), 'the late wait is registered');
    await finish(inspector, client, late.id, 'late');
    assert.equal(await pending, 'late');
    const list = String(await inspector.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub']));
    assert.equal(list.trim().split('\n').length, 1, list);
  });

  test('a job that ended before the wait started is read once, with no message', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1]);
    await finish(inspector, client, job.id, 'early');
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    assert.equal(await job.result({ timeoutMs: 30_000 }), 'early');
    assert.deepEqual(await waitCalls(inspector), { registrations: 1, statusReads: 1, evals: 0 });
  });

  test('aborting a scheduled job tells its waiters (abort.lua)', async (t) => {
    const { client, inspector } = await ownServer(t);
    await (await client.enqueue('add', [], { delayMs: 3_600_000 })).abort(); // abort.lua is cached
    const job = await client.enqueue('add', [], { delayMs: 3_600_000 });
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    const started = Date.now();
    const pending = assert.rejects(job.result({ timeoutMs: 30_000 }), JobAbortedError);
    await until(registered(inspector, client, job.id), 'the wait is registered');
    assert.equal(await job.abort(), 'aborted');
    await pending;
    assert.ok(Date.now() - started < FALLBACK_POLL_MS, 'the test itself took a second');
    // wait.lua, two status reads and abort.lua; PUBLISH waiting:<deadline> and done:<id>.
    const calls = await commandCalls(inspector);
    assert.equal(calls.evalsha, 4);
    assert.equal(calls.publish, 2);
    assert.equal(await inspector.zCard(client.keys.waiters), 0);
  });
});

describe('a wait that is not told still ends', () => {
  test('a dropped message costs one fallback read a second later', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1, 2]);
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    const pending = job.result({ timeoutMs: 30_000 });
    await until(registered(inspector, client, job.id), 'the wait is registered');
    // The wait is lost (say, a worker that started after it): nobody is told.
    await inspector.zRem(client.keys.waiters, job.id);
    await finish(inspector, client, job.id, 'late', { tell: false });
    assert.equal(await pending, 'late');
    assert.deepEqual(await waitCalls(inspector), { registrations: 1, statusReads: 2, evals: 0 });
  });

  test('a wait times out with TimeoutError after reading once a second', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1, 2]);
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    await assert.rejects(job.result({ timeoutMs: 2_500 }), TimeoutError);
    // At the start, then after 1 s and 2 s, then at the deadline.
    const { registrations, statusReads } = await waitCalls(inspector);
    assert.equal(registrations, 1);
    assert.equal(statusReads, 4);
  });

  test('a wait whose subscriber connection broke subscribes and registers again', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1, 2]);
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    const pending = job.result({ timeoutMs: 30_000 });
    await until(registered(inspector, client, job.id), 'the wait is registered');
    await inspector.zRem(client.keys.waiters, job.id);
    await inspector.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    // Messages may have been missed: the next fallback read subscribes and registers first.
    await until(registered(inspector, client, job.id), 'the wait is registered again');
    await finish(inspector, client, job.id, 'after');
    assert.equal(await pending, 'after');
    const { registrations } = await waitCalls(inspector);
    assert.equal(registrations, 2);
    assert.equal(await subscribers(inspector, client), 1);
  });

  test('a message for a job that has not ended does not cut the wait short', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1, 2]);
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    const pending = job.result({ timeoutMs: 800 });
    await until(registered(inspector, client, job.id), 'the wait is registered');
    // A message is a hint: the job is still queued, so the wait goes on to its deadline.
    await inspector.publish(client.keys.events, `done:${job.id}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await finish(inspector, client, job.id, 'in time', { tell: false });
    assert.equal(await pending, 'in time');
    // At the start, when told, and at the deadline.
    assert.deepEqual(await waitCalls(inspector), { registrations: 1, statusReads: 3, evals: 0 });
  });

  test('a zero timeout reads once and registers nothing', async (t) => {
    const { client, inspector } = await ownServer(t);
    const job = await client.enqueue('add', [1, 2]);
    await inspector.sendCommand(['CONFIG', 'RESETSTAT']);
    await assert.rejects(job.result({ timeoutMs: 0 }), TimeoutError);
    assert.deepEqual(await waitCalls(inspector), { registrations: 0, statusReads: 1, evals: 0 });
    assert.equal(await inspector.zCard(client.keys.waiters), 0);
  });
});
