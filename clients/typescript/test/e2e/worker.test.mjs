// End to end: the Python worker (`python -m ardiq run e2e_tasks:app`, the
// contract of tests/e2e_tasks.py) runs jobs this client enqueued, and the
// client reads their results, failures and aborts. Needs the worker in .venv
// (`make build-dev`); `npm run test:e2e` runs it, `npm test` does not.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  JobAbortedError,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  createClient,
} from '../../dist/index.js';
import { freshQueue, rawRedis, redisUrl } from '../support.mjs';
import { RESULT_TIMEOUT_MS, startWorker } from './worker.mjs';

/** Enqueues with a fresh client on a fresh queue, then drains it with a burst worker. */
async function runInBurst(t, enqueue) {
  const queue = freshQueue('ts-e2e');
  const client = await createClient({ url: redisUrl(), queue });
  t.after(() => client.close());
  const jobs = await enqueue(client);
  const worker = startWorker(queue, { burst: true });
  assert.equal(await worker.exit(), 0, worker.output());
  return { client, jobs };
}

describe('the Python worker runs jobs this client enqueued', () => {
  test('an async task returns its value', async (t) => {
    const { jobs } = await runInBurst(t, async (client) => [await client.enqueue('add', [1, 2])]);
    assert.equal(await jobs[0].status(), 'complete');
    assert.equal(await jobs[0].result({ timeoutMs: RESULT_TIMEOUT_MS }), 3);
  });

  test('a sync task returns its value', async (t) => {
    const { jobs } = await runInBurst(t, async (client) => [
      await client.enqueue('sync_add', [40, 2]),
    ]);
    assert.equal(await jobs[0].result({ timeoutMs: RESULT_TIMEOUT_MS }), 42);
  });

  test('every type of the table crosses the boundary and comes back', async (t) => {
    const value = {
      nil: null,
      yes: true,
      small: -7,
      big: 2n ** 62n,
      float: 0.25,
      text: 'żółw 🐢',
      raw: new Uint8Array([0, 255]),
      list: [1, [2, { deep: 'x' }]],
    };
    const { jobs } = await runInBurst(t, async (client) => [await client.enqueue('echo', [value])]);
    assert.deepEqual(await jobs[0].result({ timeoutMs: RESULT_TIMEOUT_MS }), value);
  });

  test('kwargs reach the task as keyword arguments', async (t) => {
    const { jobs } = await runInBurst(t, async (client) => [
      await client.enqueue('kwargs_echo', [], { kwargs: { a: 1, b: 'two' } }),
    ]);
    assert.deepEqual(await jobs[0].result({ timeoutMs: RESULT_TIMEOUT_MS }), { a: 1, b: 'two' });
  });

  test('a batch runs whole and in every priority', async (t) => {
    const { jobs } = await runInBurst(t, (client) =>
      client.enqueueMany(
        Array.from({ length: 50 }, (_, i) => ({ task: 'add', args: [i, 1], priority: i % 10 })),
      ),
    );
    const results = await Promise.all(
      jobs.map((job) => job.result({ timeoutMs: RESULT_TIMEOUT_MS })),
    );
    assert.deepEqual(
      results,
      jobs.map((_, i) => i + 1),
    );
  });

  test('a task that raises gives JobFailedError with type, message and traceback', async (t) => {
    const { jobs } = await runInBurst(t, async (client) => [
      await client.enqueue('fail', ['the input was bad']),
    ]);
    assert.equal(await jobs[0].status(), 'failed');
    await assert.rejects(jobs[0].result({ timeoutMs: RESULT_TIMEOUT_MS }), (error) => {
      assert.ok(error instanceof JobFailedError);
      assert.equal(error.remoteType, 'ValueError');
      assert.equal(error.remoteMessage, 'the input was bad');
      assert.ok(error.remoteTraceback.length > 0, 'the traceback text is empty');
      return true;
    });
  });
});

/** A worker that runs until the test ends. */
function runningWorker(t, queue) {
  const worker = startWorker(queue, { burst: false });
  t.after(async () => {
    if (worker.child.exitCode !== null) return;
    worker.child.kill('SIGTERM');
    await worker.exit();
  });
  return worker;
}

/** The messages of the queue's events channel from now until the test ends. */
async function eventsOf(t, client) {
  const redis = await rawRedis();
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  await subscriber.connect();
  t.after(async () => {
    await subscriber.close();
    await redis.close();
  });
  const messages = [];
  await subscriber.subscribe(client.keys.events, (message) => messages.push(String(message)));
  return { redis, messages };
}

/**
 * Resolves to what `check()` resolves to once that is truthy; fails (with
 * the worker's output) after RESULT_TIMEOUT_MS.
 */
async function until(worker, check, what) {
  const deadline = Date.now() + RESULT_TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() < deadline, `never: ${what}\n${worker.output()}`);
    assert.equal(worker.child.exitCode, null, `the worker exited:\n${worker.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('jobs that expire', () => {
  test('jobs not started before their expiry end expired unrun; the others run', async (t) => {
    const { jobs } = await runInBurst(t, async (client) => {
      const soon = Date.now() + 50;
      const batch = await client.enqueueMany(
        Array.from({ length: 20 }, (_, i) => ({
          task: 'add',
          args: [i, 1],
          expiresMs: i % 2 === 0 ? soon : Date.now() + 3_600_000,
        })),
      );
      // The worker starts after the early expiry has passed.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return batch;
    });
    for (const [i, job] of jobs.entries()) {
      if (i % 2 === 0) {
        assert.equal(await job.status(), 'expired');
        await assert.rejects(job.result({ timeoutMs: RESULT_TIMEOUT_MS }), JobExpiredError);
      } else {
        assert.equal(await job.result({ timeoutMs: RESULT_TIMEOUT_MS }), i + 1);
      }
    }
  });
});

describe('progress and waiting for results', () => {
  test('progress() reads what the task reported, while it runs and with its result', async (t) => {
    const queue = freshQueue('ts-e2e');
    const client = await createClient({ url: redisUrl(), queue });
    t.after(() => client.close());
    const worker = runningWorker(t, queue);
    const job = await client.enqueue('report', [4, 0.5]);
    assert.equal(await job.progress(), null);
    const running = await until(worker, () => job.progress(), 'a progress report');
    assert.ok(running, 'no progress was read');
    assert.ok(running.fraction > 0 && running.fraction < 1, String(running.fraction));
    assert.match(running.message, /^step [123] of 4$/);
    assert.ok(running.updatedMs <= Date.now());
    assert.equal(await job.result({ timeoutMs: RESULT_TIMEOUT_MS }), 4);
    const last = await job.progress();
    assert.ok(last, 'the result has no progress');
    assert.equal(last.fraction, 1);
    assert.equal(last.message, 'step 4 of 4');
    assert.ok(last.updatedMs >= running.updatedMs);
  });

  test('the worker that ends a job tells every waiting result()', async (t) => {
    const queue = freshQueue('ts-e2e');
    const client = await createClient({ url: redisUrl(), queue });
    t.after(() => client.close());
    const { messages } = await eventsOf(t, client);
    runningWorker(t, queue);
    const jobs = await client.enqueueMany(
      Array.from({ length: 10 }, (_, i) => ({ task: 'sleep', args: [0.2 + i / 20] })),
    );
    const results = await Promise.all(
      jobs.map((job) => job.result({ timeoutMs: RESULT_TIMEOUT_MS })),
    );
    assert.deepEqual(
      results,
      jobs.map((_, i) => 0.2 + i / 20),
    );
    for (const job of jobs) assert.ok(messages.includes(`done:${job.id}`), job.id);
  });

  test('a wait the worker does not know of still ends, by the fallback read', async (t) => {
    const queue = freshQueue('ts-e2e');
    const client = await createClient({ url: redisUrl(), queue });
    t.after(() => client.close());
    const { redis, messages } = await eventsOf(t, client);
    const worker = runningWorker(t, queue);
    const job = await client.enqueue('sleep', [1.5]);
    const pending = job.result({ timeoutMs: RESULT_TIMEOUT_MS });
    await until(
      worker,
      async () => (await redis.zScore(client.keys.waiters, job.id)) !== null,
      'the wait is registered',
    );
    // The wait is dropped before the job ends: the worker publishes nothing.
    await redis.zRem(client.keys.waiters, job.id);
    assert.equal(await pending, 1.5);
    assert.ok(!messages.includes(`done:${job.id}`), messages.join(', '));
  });
});

describe('results that are not kept', () => {
  // Without the not_found rule this wait never ends: the test's timeout fails it.
  test(
    'waiting on a job with a result TTL of 0 ends with JobNotFoundError when it has run',
    {
      timeout: RESULT_TIMEOUT_MS,
    },
    async (t) => {
      const queue = freshQueue('ts-e2e');
      const client = await createClient({ url: redisUrl(), queue });
      t.after(() => client.close());
      runningWorker(t, queue);
      const job = await client.enqueue('sleep', [0.2], { resultTtlMs: 0 });
      await assert.rejects(job.result(), JobNotFoundError);
      assert.equal(await job.status(), 'not_found');
    },
  );
});

describe('abort reaches the worker', () => {
  test('an aborted scheduled job never runs', async (t) => {
    const { jobs } = await runInBurst(t, async (client) => {
      const job = await client.enqueue('sleep', [0], { delayMs: 3_600_000 });
      assert.equal(await job.abort(), 'aborted');
      return [job];
    });
    assert.equal(await jobs[0].status(), 'aborted');
    await assert.rejects(jobs[0].result({ timeoutMs: RESULT_TIMEOUT_MS }), JobAbortedError);
  });

  test('a running job is aborted by the worker that runs it', async (t) => {
    const queue = freshQueue('ts-e2e');
    const client = await createClient({ url: redisUrl(), queue });
    t.after(() => client.close());
    const worker = startWorker(queue, { burst: false });
    t.after(() => {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    });
    const job = await client.enqueue('sleep', [3_600]);
    // Wait until a worker holds the job; bounded so a broken worker fails the test.
    const deadline = Date.now() + RESULT_TIMEOUT_MS;
    while ((await job.status()) !== 'running') {
      assert.ok(Date.now() < deadline, `the job never started:\n${worker.output()}`);
      assert.equal(worker.child.exitCode, null, `the worker exited:\n${worker.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await job.abort(), 'abort_requested');
    await assert.rejects(job.result({ timeoutMs: RESULT_TIMEOUT_MS }), JobAbortedError);
    assert.equal(await job.status(), 'aborted');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exit(), 0, worker.output());
  });
});
