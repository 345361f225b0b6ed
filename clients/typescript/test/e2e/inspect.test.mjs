// The read-only inspection of the TypeScript client (SPEC.md section 20)
// against a known state: jobs queued at priorities and scheduled ones, the
// kept failures and dead letters a burst of the Python worker leaves, and a
// live worker holding jobs.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createClient } from '../../dist/index.js';
import { freshQueue, redisUrl } from '../support.mjs';
import { RESULT_TIMEOUT_MS, startWorker } from './worker.mjs';

async function connected(t) {
  const queue = freshQueue('ts-inspect');
  const client = await createClient({ url: redisUrl(), queue });
  t.after(() => client.close());
  return { client, queue };
}

test('queueInfo counts waiting jobs per priority and scheduled ones', async (t) => {
  const { client } = await connected(t);
  const before = Date.now();
  for (const [priority, count] of [
    [9, 2],
    [5, 3],
    [0, 1],
  ]) {
    for (let n = 0; n < count; n++) await client.enqueue('add', [priority, n], { priority });
  }
  const scheduled = [];
  for (let n = 0; n < 3; n++) {
    scheduled.push((await client.enqueue('add', [1, 1], { delayMs: 60_000 + n })).id);
  }

  const info = await client.queueInfo();
  assert.equal(info.exists, true);
  assert.deepEqual(
    info.levels
      .filter((level) => level.waiting > 0)
      .map((level) => [level.priority, level.waiting]),
    [
      [9, 2],
      [5, 3],
      [0, 1],
    ],
  );
  assert.deepEqual([info.waiting, info.held, info.scheduled, info.running], [6, 0, 3, 0]);
  assert.ok((info.nextDueMs ?? 0) >= before + 60_000);
  const first = await client.jobs('scheduled', { count: 2 });
  const rest = await client.jobs('scheduled', { count: 2, cursor: first.next });
  assert.deepEqual(
    [...first.jobs, ...rest.jobs].map((job) => job.jobId),
    scheduled,
  );
  assert.equal(rest.next, undefined);
  assert.equal(first.jobs[0]?.job?.task, 'add');
});

test('kept failures and dead letters list with their errors', async (t) => {
  const { client, queue } = await connected(t);
  const failed = [];
  for (let n = 0; n < 3; n++) failed.push((await client.enqueue('fail', [`no ${n}`])).id);
  const dead = (await client.enqueue('no_such_task')).id;
  const worker = startWorker(queue, { burst: true });
  assert.equal(await worker.exit(), 0, worker.output());

  const page = await client.jobs('failed', { count: 2 });
  const rest = await client.jobs('failed', { count: 2, cursor: page.next });
  assert.deepEqual(
    [...page.jobs, ...rest.jobs].map((job) => job.jobId),
    failed,
  );
  assert.deepEqual(
    [page.jobs[0]?.error?.type, page.jobs[0]?.error?.message],
    ['ValueError', 'no 0'],
  );
  assert.equal(page.jobs[0]?.attempts, 1);
  const letters = await client.jobs('dead');
  assert.deepEqual(
    letters.jobs.map((job) => [job.jobId, job.reason]),
    [[dead, 'unknown_task']],
  );
  assert.equal((await client.queueInfo()).failed, 3);
});

test('running jobs and the live worker that holds them', async (t) => {
  const { client, queue } = await connected(t);
  const worker = startWorker(queue, { burst: false });
  t.after(() => {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  });
  const jobs = [await client.enqueue('sleep', [30]), await client.enqueue('sleep', [30])];
  const deadline = Date.now() + RESULT_TIMEOUT_MS;
  while ((await client.queueInfo()).running < 2) {
    assert.ok(Date.now() < deadline, `the worker never held both jobs:\n${worker.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const page = await client.jobs('running');
  const [seen] = await client.workers();
  assert.deepEqual(page.jobs.map((job) => job.jobId).sort(), jobs.map((job) => job.id).sort());
  assert.ok(page.jobs.every((job) => job.inRunning && job.workerId === seen.workerId));
  assert.equal(seen.alive, true);
  assert.deepEqual(seen.queues, [queue]);
  for (const job of jobs) await job.abort();
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exit(), 0, worker.output());
});

test('a page size out of bounds is refused', async (t) => {
  const { client } = await connected(t);
  for (const count of [0, 1001, 1.5]) {
    await assert.rejects(client.jobs('dead', { count }), /invalid count/);
  }
});

test('scheduled pages go on after the cursor job leaves, skipping none', async (t) => {
  const { client } = await connected(t);
  const at = Date.now() + 3_600_000;
  const ids = [];
  for (let n = 0; n < 120; n++)
    ids.push((await client.enqueue('add', [1, n], { scheduleAt: at })).id);
  const expected = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

  const seen = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.jobs('scheduled', { count: 25, cursor });
    pages += 1;
    seen.push(...page.jobs.map((job) => job.jobId));
    for (const job of page.jobs.slice(-5)) assert.equal(await client.abort(job.jobId), 'aborted');
    cursor = page.next;
  } while (cursor !== undefined);

  assert.deepEqual(seen, expected);
  assert.equal(pages, 5);
  assert.equal((await client.queueInfo()).scheduled, 120 - 25);
});

test('a scheduled cursor no page gave is refused', async (t) => {
  const { client } = await connected(t);
  for (const cursor of ['25', 'x:add', '1e:add']) {
    await assert.rejects(client.jobs('scheduled', { cursor }), /invalid cursor/);
  }
});
