import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  AuthenticationError,
  ConnectionError,
  InvalidOptionError,
  JobAbortedError,
  JobDeadError,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  MalformedRecordError,
  NotConnectedError,
  State,
  TimeoutError,
  createClient,
  decodeStatus,
  encodeStatus,
  encodeValue,
} from '../dist/index.js';
import { closedPort, freshQueue, rawRedis, redisUrl } from './support.mjs';

let redis;
before(async () => {
  redis = await rawRedis();
});
after(async () => {
  await redis.close();
});

async function withClient(t) {
  const client = await createClient({ url: redisUrl(), queue: freshQueue() });
  t.after(() => client.close());
  return client;
}

/** Stores a terminal status the way a worker's finish.lua does. */
async function finish(client, id, fields) {
  const record = encodeStatus({
    specVersion: '1.0',
    state: State.UNSPECIFIED,
    value: new Uint8Array(0),
    attempts: 1,
    enqueuedMs: 1,
    startedMs: 2,
    finishedMs: 3,
    workerId: 'w-1',
    task: 'add',
    ...fields,
  });
  await redis.set(client.keys.job(id), Buffer.from(record), { PX: 60_000 });
}

describe('status', () => {
  test('follows the job through the states of SPEC.md section 6', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    assert.equal(await job.status(), 'queued');
    await redis.hSet(client.keys.running, job.id, 'w-1');
    assert.equal(await job.status(), 'running');
    await finish(client, job.id, { state: State.COMPLETE, value: encodeValue(3) });
    assert.equal(await job.status(), 'complete');
    for (const [state, name] of [
      [State.FAILED, 'failed'],
      [State.ABORTED, 'aborted'],
      [State.DEAD, 'dead'],
      [State.EXPIRED, 'expired'],
    ]) {
      await finish(client, job.id, { state });
      assert.equal(await job.status(), name);
    }
  });

  test('an unknown id is not_found', async (t) => {
    const client = await withClient(t);
    assert.equal(await client.job('never-enqueued').status(), 'not_found');
  });

  test('statusRecord gives the decoded record', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    await finish(client, job.id, { state: State.COMPLETE, value: encodeValue(3), workerId: 'w-9' });
    const { state, record } = await client.statusRecord(job.id);
    assert.equal(state, 'complete');
    assert.ok(record);
    assert.equal(record.workerId, 'w-9');
  });
});

describe('result', () => {
  test('a complete job gives its decoded value', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    const value = { sum: 3, big: 2n ** 60n, raw: new Uint8Array([1]), list: [1.5, null] };
    await finish(client, job.id, { state: State.COMPLETE, value: encodeValue(value) });
    assert.deepEqual(await job.result({ timeoutMs: 5_000 }), value);
  });

  test('waits while the job is queued, then returns once it completes', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    const pending = job.result({ timeoutMs: 30_000 });
    await finish(client, job.id, { state: State.COMPLETE, value: encodeValue('done') });
    assert.equal(await pending, 'done');
  });

  test('a failed job throws JobFailedError with the remote error', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('fail', ['boom']);
    const error = {
      type: 'ValueError',
      message: 'boom',
      traceback: 'Traceback (most recent call last):\n',
    };
    await finish(client, job.id, { state: State.FAILED, error });
    await assert.rejects(job.result({ timeoutMs: 5_000 }), (thrown) => {
      assert.ok(thrown instanceof JobFailedError);
      assert.equal(thrown.remoteType, 'ValueError');
      assert.equal(thrown.remoteMessage, 'boom');
      assert.equal(thrown.remoteTraceback, error.traceback);
      assert.equal(thrown.specType, 'JobFailed');
      return true;
    });
  });

  test('a dead job throws JobDeadError, a kind of JobFailedError', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('nope');
    const error = {
      type: 'DeadLetter',
      message: 'unknown_task: no task named nope',
      traceback: '',
    };
    await finish(client, job.id, { state: State.DEAD, error });
    await assert.rejects(
      job.result({ timeoutMs: 5_000 }),
      (thrown) => thrown instanceof JobDeadError && thrown instanceof JobFailedError,
    );
  });

  test('an aborted job throws JobAbortedError', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [], { delayMs: 60_000 });
    assert.equal(await job.abort(), 'aborted');
    await assert.rejects(job.result({ timeoutMs: 5_000 }), JobAbortedError);
  });

  test("an expired job throws JobExpiredError with the record's message", async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [], { expiresMs: Date.now() + 60_000 });
    const error = {
      type: 'JobExpired',
      message: 'not started before its expiry at 1700000000000',
      traceback: '',
    };
    await finish(client, job.id, { specVersion: '1.1', state: State.EXPIRED, error, startedMs: 0 });
    assert.equal(await job.status(), 'expired');
    await assert.rejects(job.result({ timeoutMs: 5_000 }), (thrown) => {
      assert.ok(thrown instanceof JobExpiredError);
      assert.equal(thrown.specType, 'JobExpired');
      assert.match(thrown.message, /not started before its expiry at 1700000000000/);
      return true;
    });
    assert.equal(await job.abort(), 'expired');
  });

  test('a job that does not finish in time throws TimeoutError', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    await assert.rejects(job.result({ timeoutMs: 20 }), TimeoutError);
    await assert.rejects(job.result({ timeoutMs: 0 }), TimeoutError);
  });

  // Without the not_found rule these waits never end: the test's timeout fails them.
  test(
    'a job without a status key throws JobNotFoundError at once',
    { timeout: 20_000 },
    async (t) => {
      const client = await withClient(t);
      await assert.rejects(client.job('no-such-job').result(), (thrown) => {
        assert.ok(thrown instanceof JobNotFoundError);
        assert.equal(thrown.specType, 'JobNotFound');
        return true;
      });
      // A result TTL of 0: finish.lua deletes the status key of the job waited on.
      const job = await client.enqueue('add', [1, 2], { resultTtlMs: 0 });
      const pending = job.result();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await redis.del(client.keys.job(job.id));
      await assert.rejects(pending, JobNotFoundError);
    },
  );

  test('a queued or scheduled job is never not found while waited on', async (t) => {
    const client = await withClient(t);
    const queued = await client.enqueue('add', [1, 2]);
    const scheduled = await client.enqueue('add', [1, 2], { delayMs: 60_000 });
    for (const job of [queued, scheduled]) {
      await assert.rejects(job.result({ timeoutMs: 20 }), TimeoutError);
    }
  });

  test('a negative timeout is refused', async (t) => {
    const client = await withClient(t);
    await assert.rejects(client.job('x').result({ timeoutMs: -1 }), InvalidOptionError);
  });

  test('a status record that is not protobuf is MalformedRecordError', async (t) => {
    const client = await withClient(t);
    await redis.set(client.keys.job('garbled'), Buffer.from([0x0a, 0x05, 0x31]));
    await assert.rejects(client.job('garbled').result({ timeoutMs: 5_000 }), MalformedRecordError);
  });
});

describe('progress', () => {
  const progress = { fraction: 0.25, message: 'a quarter', updatedMs: 1700000000500 };

  test('null until the job reports; then the fraction, message and time a worker stored', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    assert.equal(await job.progress(), null);
    // What progress.lua stores for a running job (SPEC.md section 16).
    await redis.hSet(client.keys.running, job.id, 'w-1');
    await finish(client, job.id, { specVersion: '1.1', state: State.RUNNING, progress });
    assert.equal(await job.status(), 'running');
    assert.deepEqual(await job.progress(), progress);
  });

  test('the last progress stays with the result', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    const last = { ...progress, fraction: 1, message: '' };
    await finish(client, job.id, {
      specVersion: '1.1',
      state: State.COMPLETE,
      value: encodeValue(3),
      progress: last,
    });
    assert.deepEqual(await job.progress(), last);
    assert.equal(await job.result({ timeoutMs: 5_000 }), 3);
  });

  test('a job that is not found has no progress', async (t) => {
    const client = await withClient(t);
    assert.equal(await client.job('never-enqueued').progress(), null);
  });

  test('a RUNNING record of a job handed back reads as queued, progress and all', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    await finish(client, job.id, { specVersion: '1.1', state: State.RUNNING, progress });
    assert.equal(await job.status(), 'queued');
    assert.deepEqual(await job.progress(), progress);
  });
});

describe('abort', () => {
  test('a scheduled job is aborted at once with the record of SPEC.md section 6', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [], { delayMs: 60_000 });
    const before = Date.now();
    assert.equal(await job.abort(), 'aborted');
    assert.equal(await redis.zCard(client.keys.delayed), 0);
    assert.equal(await redis.hLen(client.keys.delayedJobs), 0);
    const record = decodeStatus(await redis.get(client.keys.job(job.id)));
    assert.equal(record.state, State.ABORTED);
    assert.deepEqual(record.error, {
      type: 'JobAborted',
      message: 'aborted before it ran',
      traceback: '',
    });
    assert.ok(record.finishedMs >= before && record.finishedMs <= Date.now());
    const ttl = await redis.pTTL(client.keys.job(job.id));
    assert.ok(ttl > 0 && ttl <= 86_400_000);
    assert.equal(await job.status(), 'aborted');
  });

  test('the result TTL the job was enqueued with bounds the aborted status', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [], { delayMs: 60_000, resultTtlMs: 5_000 });
    await job.abort();
    const ttl = await redis.pTTL(client.keys.job(job.id));
    assert.ok(ttl > 0 && ttl <= 5_000);
  });

  test('a result TTL of 0 deletes the status: the job is not_found', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [], { delayMs: 60_000 });
    assert.equal(await job.abort({ resultTtlMs: 0 }), 'aborted');
    assert.equal(await job.status(), 'not_found');
  });

  test('a queued job gets an abort request and a hint on the events channel', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    const subscriber = redis.duplicate();
    subscriber.on('error', () => {});
    await subscriber.connect();
    t.after(() => subscriber.close());
    const messages = [];
    await subscriber.subscribe(client.keys.events, (message) => messages.push(message));
    assert.equal(await job.abort(), 'abort_requested');
    assert.equal(await redis.sIsMember(client.keys.abort, job.id), 1);
    // PUBLISH returns after delivery to the subscriber's socket; a PING on the
    // subscriber's connection orders its read after the message.
    await subscriber.ping();
    assert.deepEqual(messages.map(String), [`abort:${job.id}`]);
  });

  test('abort.lua gets the waiters key and the clock (1.1)', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [], { delayMs: 60_000 });
    // Someone waits on the job until far in the future: the abort tells them.
    await redis.zAdd(client.keys.waiters, { score: Date.now() + 60_000, value: job.id });
    const subscriber = redis.duplicate();
    subscriber.on('error', () => {});
    await subscriber.connect();
    t.after(() => subscriber.close());
    const messages = [];
    await subscriber.subscribe(client.keys.events, (message) => messages.push(message));
    assert.equal(await job.abort(), 'aborted');
    await subscriber.ping();
    assert.deepEqual(messages.map(String), [`done:${job.id}`]);
    assert.equal(await redis.zCard(client.keys.waiters), 0);
  });

  test('a finished job is left alone and its state is reported', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('add', [1, 2]);
    await finish(client, job.id, { state: State.COMPLETE, value: encodeValue(3) });
    assert.equal(await job.abort(), 'complete');
    assert.equal(await client.job('missing').abort(), 'not_found');
  });
});

describe('connection', () => {
  test('scripts are loaded with EVAL when Redis does not know them', async (t) => {
    const client = await withClient(t);
    await redis.sendCommand(['SCRIPT', 'FLUSH']);
    const job = await client.enqueue('add', [1]);
    assert.equal(await job.status(), 'queued');
    assert.equal(await job.abort(), 'abort_requested');
  });

  test('a batch lands whole when Redis has forgotten the script mid-life', async (t) => {
    const client = await withClient(t);
    await client.enqueue('warm', []);
    await redis.sendCommand(['SCRIPT', 'FLUSH']);
    const specs = Array.from({ length: 2_500 }, (_, i) => ({ task: 'add', args: [i] }));
    const jobs = await client.enqueueMany(specs);
    assert.ok(jobs.every((job) => job.outcome === 'queued'));
    assert.equal(await redis.xLen(client.keys.stream(5)), 2_501);
  });

  test("a fresh client's first batch lands whole on a Redis without the script", async (t) => {
    const client = await withClient(t);
    await redis.sendCommand(['SCRIPT', 'FLUSH']);
    const specs = Array.from({ length: 2_500 }, (_, i) => ({ task: 'add', args: [i] }));
    const jobs = await client.enqueueMany(specs);
    assert.ok(jobs.every((job) => job.outcome === 'queued'));
    assert.equal(await redis.xLen(client.keys.stream(5)), 2_500);
  });

  test('an unreachable Redis is ConnectionError', async () => {
    const port = await closedPort();
    await assert.rejects(createClient({ url: `redis://127.0.0.1:${port}/0` }), ConnectionError);
  });

  test('a wrong password is AuthenticationError', async (t) => {
    const user = `ardiq-ts-${process.pid}`;
    await redis.sendCommand(['ACL', 'SETUSER', user, 'on', '>right-password', '~*', '&*', '+@all']);
    t.after(() => redis.sendCommand(['ACL', 'DELUSER', user]));
    const url = new URL(redisUrl());
    url.username = user;
    url.password = 'wrong-password';
    await assert.rejects(createClient({ url: url.toString() }), AuthenticationError);
    url.password = 'right-password';
    const client = await createClient({ url: url.toString(), queue: freshQueue() });
    t.after(() => client.close());
    assert.equal((await client.enqueue('add', [1])).outcome, 'queued');
  });

  test('a URL that is not redis:// or rediss:// is refused', async () => {
    await assert.rejects(createClient({ url: 'http://127.0.0.1:6379' }), InvalidOptionError);
  });

  test('a closed client throws NotConnectedError', async () => {
    const client = await createClient({ url: redisUrl(), queue: freshQueue() });
    const job = await client.enqueue('add', [1]);
    await client.close();
    await client.close();
    await assert.rejects(client.enqueue('add', [1]), NotConnectedError);
    await assert.rejects(job.status(), NotConnectedError);
  });

  test('the queue defaults to "default"', async (t) => {
    const client = await createClient({ url: redisUrl() });
    t.after(() => client.close());
    assert.equal(client.queue, 'default');
    assert.equal(client.keys.stream(5), 'ardiq:{default}:stream:5');
  });
});

describe('listings', () => {
  /** @type {Array<[import('../dist/index.js').ListState, string]>} */
  const cases = [
    ['failed', 'abc'],
    ['failed', '1-x'],
    ['dead', '99999999999999999999-0'],
    ['running', '9:zzz'],
    ['running', '5:abc'],
  ];
  for (const [state, cursor] of cases) {
    test(`a ${state} cursor no page gave (${cursor}) is refused`, async (t) => {
      const client = await withClient(t);
      await assert.rejects(client.jobs(state, { cursor }), InvalidOptionError);
    });
  }
});

describe('workers', () => {
  test('a worker gone a minute ago is neither listed nor counted', async (t) => {
    const client = await withClient(t);
    // No live worker is left to prune `workers`: the listing leaves old members out itself.
    const now = Date.now();
    await redis.zAdd(client.keys.workers, [
      { value: 'w-crashed', score: now - 3 * 86_400_000 },
      { value: 'w-minute', score: now - 60_000 },
      { value: 'w-recent', score: now - 10_000 },
    ]);

    const listed = await client.workers();
    const info = await client.queueInfo();

    assert.deepEqual(
      listed.map((w) => [w.workerId, w.alive]),
      [['w-recent', false]],
    );
    assert.equal(info.workers, 1);
  });
});
