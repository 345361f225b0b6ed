// End to end: the Python worker (`python -m ardiq run e2e_tasks:app`, the
// contract of tests/e2e_tasks.py) runs jobs this client enqueued, and the
// client reads their results, failures and aborts. Needs the worker in .venv
// (`make build-dev`); `npm run test:e2e` runs it, `npm test` does not.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JobAbortedError, JobFailedError, createClient } from '../../dist/index.js';
import { freshQueue, redisUrl } from '../support.mjs';
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
