import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  InvalidDelayError,
  InvalidJobIdError,
  InvalidOptionError,
  InvalidPriorityError,
  InvalidQueueNameError,
  InvalidTaskNameError,
  MAX_DURATION_MS,
  MAX_RETRIES,
  MAX_SCHEDULE_MS,
  PayloadTooLargeError,
  UnsupportedValueError,
  buildEnqueue,
  createClient,
  decodeJob,
  decodeValue,
} from '../dist/index.js';
import { freshQueue, hex, rawRedis, redisUrl } from './support.mjs';

const QUEUED = '0a03312e301001';
const SCHEDULED = '0a03312e301002';

let redis;
before(async () => {
  redis = await rawRedis();
});
after(async () => {
  await redis.close();
});

/** A client on a fresh queue, closed after the test. */
async function withClient(t) {
  const client = await createClient({ url: redisUrl(), queue: freshQueue() });
  t.after(() => client.close());
  return client;
}

/** Every entry of a stream as [entry id, [[field, value], ...]] with Buffers. */
async function entries(key) {
  const reply = await redis.sendCommand(['XRANGE', key, '-', '+']);
  return reply.map(([id, fields]) => {
    const pairs = [];
    for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i].toString(), fields[i + 1]]);
    return [id.toString(), pairs];
  });
}

describe('enqueue writes the keys SPEC.md section 2 names', () => {
  test('a queued job: status QUEUED and one entry id, task, job on stream:5', async (t) => {
    const client = await withClient(t);
    const before = Date.now();
    const job = await client.enqueue('add', [1, 2]);
    assert.equal(job.outcome, 'queued');
    assert.equal(job.duplicate, false);
    assert.equal(hex(await redis.get(client.keys.job(job.id))), QUEUED);
    const stream = await entries(client.keys.stream(5));
    assert.equal(stream.length, 1);
    const [entryId, fields] = stream[0];
    assert.equal(entryId, job.streamId);
    assert.deepEqual(
      fields.map(([name]) => name),
      ['id', 'task', 'job'],
    );
    assert.equal(fields[0][1].toString(), job.id);
    assert.equal(fields[1][1].toString(), 'add');
    const record = decodeJob(fields[2][1]);
    assert.equal(record.specVersion, '1.0');
    assert.equal(record.id, job.id);
    assert.equal(record.task, 'add');
    assert.deepEqual(decodeValue(record.args), [1, 2]);
    assert.equal(record.kwargs.length, 0);
    assert.equal(record.priority, 5);
    assert.equal(record.dueMs, 0);
    assert.equal(record.attempt, 0);
    assert.ok(record.enqueuedMs >= before && record.enqueuedMs <= Date.now());
    assert.equal(record.maxRetries, undefined);
  });

  test('no arguments are written as empty bytes', async (t) => {
    const client = await withClient(t);
    await client.enqueue('tick');
    const [[, fields]] = await entries(client.keys.stream(5));
    const record = decodeJob(fields[2][1]);
    assert.equal(record.args.length, 0);
    assert.equal(record.kwargs.length, 0);
  });

  test('kwargs and every override land in the record', async (t) => {
    const client = await withClient(t);
    await client.enqueue('mail', ['to'], {
      kwargs: new Map([['when', { ms: 5 }]]),
      maxRetries: 0,
      timeoutMs: 30_000,
      backoffMs: 250,
      resultTtlMs: 0,
      jobId: 'order-17',
    });
    const [[, fields]] = await entries(client.keys.stream(5));
    const record = decodeJob(fields[2][1]);
    assert.equal(record.id, 'order-17');
    assert.deepEqual(decodeValue(record.kwargs), { when: { ms: 5 } });
    assert.equal(record.maxRetries, 0);
    assert.equal(record.timeoutMs, 30_000);
    assert.equal(record.backoffMs, 250);
    assert.equal(record.resultTtlMs, 0);
  });

  test('an expiring job carries expires_ms and spec_version 1.1; its status is the 1.0 QUEUED', async (t) => {
    const client = await withClient(t);
    const expiresMs = Date.now() + 60_000;
    const job = await client.enqueue('add', [1, 2], { expiresMs });
    const [[, fields]] = await entries(client.keys.stream(5));
    const record = decodeJob(fields[2][1]);
    assert.equal(record.specVersion, '1.1');
    assert.equal(record.expiresMs, expiresMs);
    assert.equal(hex(await redis.get(client.keys.job(job.id))), QUEUED);
    const later = await client.enqueue('add', [], {
      delayMs: 1_000,
      expiresAt: new Date(expiresMs),
    });
    const delayed = decodeJob(await redis.hGet(client.keys.delayedJobs, later.id));
    assert.equal(delayed.expiresMs, expiresMs);
  });

  test('the priority picks the stream', async (t) => {
    const client = await withClient(t);
    await client.enqueue('a', [], { priority: 0 });
    await client.enqueue('b', [], { priority: 9 });
    assert.equal((await entries(client.keys.stream(0))).length, 1);
    assert.equal((await entries(client.keys.stream(9))).length, 1);
    assert.equal((await entries(client.keys.stream(5))).length, 0);
    const [[, fields]] = await entries(client.keys.stream(9));
    assert.equal(decodeJob(fields[2][1]).priority, 9);
  });

  test('a delay schedules the job: SCHEDULED, delayed and delayed:jobs, no stream entry', async (t) => {
    const client = await withClient(t);
    const before = Date.now();
    const job = await client.enqueue('add', [1], { delayMs: 60_000 });
    assert.equal(job.outcome, 'scheduled');
    assert.equal(job.streamId, undefined);
    assert.equal(hex(await redis.get(client.keys.job(job.id))), SCHEDULED);
    const due = Number(await redis.zScore(client.keys.delayed, job.id));
    assert.ok(due >= before + 60_000 && due <= Date.now() + 60_000);
    const record = decodeJob(await redis.hGet(client.keys.delayedJobs, job.id));
    assert.equal(record.dueMs, due);
    assert.equal(record.id, job.id);
    assert.equal((await entries(client.keys.stream(5))).length, 0);
    assert.equal(await job.status(), 'scheduled');
  });

  test('scheduleAt in the future is the due time, as a number or a Date', async (t) => {
    const client = await withClient(t);
    const at = Date.now() + 3_600_000;
    const a = await client.enqueue('a', [], { scheduleAt: at });
    const b = await client.enqueue('b', [], { scheduleAt: new Date(at + 1) });
    assert.equal(Number(await redis.zScore(client.keys.delayed, a.id)), at);
    assert.equal(Number(await redis.zScore(client.keys.delayed, b.id)), at + 1);
    assert.equal(decodeJob(await redis.hGet(client.keys.delayedJobs, b.id)).dueMs, at + 1);
  });

  test('a due time already past means run now', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('a', [], { scheduleAt: Date.now() - 1_000 });
    assert.equal(job.outcome, 'queued');
    const [[, fields]] = await entries(client.keys.stream(5));
    assert.equal(decodeJob(fields[2][1]).dueMs, 0);
    assert.equal(await redis.zCard(client.keys.delayed), 0);
  });

  test('a zero delay means run now', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('a', [], { delayMs: 0 });
    assert.equal(job.outcome, 'queued');
  });
});

describe('job ids are idempotency keys', () => {
  test('a generated id is a UUID v7', async (t) => {
    const client = await withClient(t);
    const job = await client.enqueue('a');
    assert.match(job.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('a duplicate id is reported and writes nothing', async (t) => {
    const client = await withClient(t);
    const first = await client.enqueue('a', [1], { jobId: 'once' });
    const again = await client.enqueue('a', [2], { jobId: 'once' });
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.equal(again.outcome, 'duplicate');
    assert.equal(again.id, 'once');
    const stream = await entries(client.keys.stream(5));
    assert.equal(stream.length, 1);
    assert.deepEqual(decodeValue(decodeJob(stream[0][1][2][1]).args), [1]);
  });

  test('a duplicate of a scheduled job writes nothing either', async (t) => {
    const client = await withClient(t);
    await client.enqueue('a', [], { jobId: 'later', delayMs: 60_000 });
    const again = await client.enqueue('a', [], { jobId: 'later' });
    assert.equal(again.duplicate, true);
    assert.equal((await entries(client.keys.stream(5))).length, 0);
    assert.equal(await redis.zCard(client.keys.delayed), 1);
  });
});

describe('enqueueMany', () => {
  test('enqueues more than one script batch, in order, with outcomes', async (t) => {
    const client = await withClient(t);
    /** @type {import('../dist/index.js').JobSpec[]} */
    const specs = Array.from({ length: 2_500 }, (_, i) => ({ task: 'add', args: [i, i] }));
    specs[10] = { task: 'later', args: [], delayMs: 60_000 };
    specs[2_000] = { task: 'dup', jobId: 'same' };
    specs[2_001] = { task: 'dup', jobId: 'same' };
    const jobs = await client.enqueueMany(specs);
    assert.equal(jobs.length, 2_500);
    assert.equal(jobs[10].outcome, 'scheduled');
    assert.equal(jobs[2_000].outcome, 'queued');
    assert.equal(jobs[2_001].outcome, 'duplicate');
    assert.equal(await redis.xLen(client.keys.stream(5)), 2_498);
    const stream = await entries(client.keys.stream(5));
    assert.deepEqual(decodeValue(decodeJob(stream[1_500][1][2][1]).args), [1_501, 1_501]);
    assert.equal(stream[1_500][1][0][1].toString(), jobs[1_501].id);
  });

  test('one bad job rejects the batch before anything is written', async (t) => {
    const client = await withClient(t);
    const specs = [
      { task: 'ok', args: [1] },
      { task: 'bad', args: [undefined] },
    ];
    await assert.rejects(client.enqueueMany(specs), UnsupportedValueError);
    assert.equal(await redis.xLen(client.keys.stream(5)), 0);
  });

  test('an empty batch sends nothing', async (t) => {
    const client = await withClient(t);
    assert.deepEqual(await client.enqueueMany([]), []);
  });
});

describe('bad input is a typed error and writes nothing', () => {
  test('values outside the type table name their path', async (t) => {
    const client = await withClient(t);
    await assert.rejects(
      client.enqueue('a', [1, { when: new Date() }]),
      (error) => error instanceof UnsupportedValueError && error.path === 'args[1].when',
    );
    await assert.rejects(
      client.enqueue('a', [], { kwargs: { f: () => 1 } }),
      (error) => error instanceof UnsupportedValueError && error.path === 'kwargs.f',
    );
    // @ts-expect-error: args that are not an array
    await assert.rejects(client.enqueue('a', 'not a list'), UnsupportedValueError);
    // @ts-expect-error: kwargs that are not a map
    await assert.rejects(client.enqueue('a', [], { kwargs: [1] }), UnsupportedValueError);
    assert.equal(await redis.xLen(client.keys.stream(5)), 0);
  });

  test('task names must be 1 to 256 bytes', async (t) => {
    const client = await withClient(t);
    await assert.rejects(client.enqueue(''), InvalidTaskNameError);
    await assert.rejects(client.enqueue('ż'.repeat(129)), InvalidTaskNameError);
    // @ts-expect-error: a task name that is not a string
    await assert.rejects(client.enqueue(42), InvalidTaskNameError);
    assert.equal((await client.enqueue('ż'.repeat(128))).outcome, 'queued');
  });

  test('job ids must be 1 to 256 bytes without white space', async (t) => {
    const client = await withClient(t);
    for (const jobId of ['', 'a b', 'tab\there', 'nbsp\u00a0', 'x'.repeat(257)]) {
      await assert.rejects(client.enqueue('a', [], { jobId }), InvalidJobIdError, jobId);
    }
    assert.throws(() => client.job(''), InvalidJobIdError);
  });

  test('priorities must be integers from 0 to 9', async (t) => {
    const client = await withClient(t);
    // A string priority is refused too, as it would be from untyped callers.
    for (const priority of /** @type {any[]} */ ([-1, 10, 1.5, '5'])) {
      await assert.rejects(client.enqueue('a', [], { priority }), InvalidPriorityError);
    }
  });

  test('delays must be non-negative integers, schedule times real times', async (t) => {
    const client = await withClient(t);
    await assert.rejects(client.enqueue('a', [], { delayMs: -1 }), InvalidDelayError);
    await assert.rejects(client.enqueue('a', [], { delayMs: 0.5 }), InvalidDelayError);
    await assert.rejects(
      client.enqueue('a', [], { scheduleAt: new Date('nope') }),
      InvalidDelayError,
    );
    await assert.rejects(
      client.enqueue('a', [], { delayMs: 1, scheduleAt: Date.now() }),
      InvalidDelayError,
    );
  });

  test('overrides must be in range, and unknown options are refused', async (t) => {
    const client = await withClient(t);
    await assert.rejects(client.enqueue('a', [], { maxRetries: -1 }), InvalidOptionError);
    await assert.rejects(client.enqueue('a', [], { timeoutMs: 1.5 }), InvalidOptionError);
    // @ts-expect-error: an option that does not exist
    await assert.rejects(client.enqueue('a', [], { delay: 5 }), InvalidOptionError);
    assert.equal(await redis.xLen(client.keys.stream(5)), 0);
  });

  test('a job record over 1 MiB is PayloadTooLargeError', async (t) => {
    const client = await withClient(t);
    await assert.rejects(
      client.enqueue('a', [new Uint8Array(1_048_576)]),
      (error) => error instanceof PayloadTooLargeError && error.size > 1_048_576,
    );
    assert.equal(await redis.xLen(client.keys.stream(5)), 0);
    assert.equal((await client.enqueue('a', [new Uint8Array(1_000_000)])).outcome, 'queued');
  });

  test('queue names must be 1 to 128 bytes without braces or white space', async () => {
    for (const queue of ['', 'a{b}', 'a b', 'q'.repeat(129)]) {
      await assert.rejects(createClient({ url: redisUrl(), queue }), InvalidQueueNameError);
    }
  });
});

describe('the bounds of SPEC.md sections 1, 4 and 5', () => {
  const NOW_MS = 1_700_000_000_000;
  const CENTURY_MS = 3_155_760_000_000;
  const LAST_MS_OF_9999 = 253_402_300_799_999;
  // A string that is not well formed: a low surrogate without its high half.
  const LONE_SURROGATE = '\udcff';

  /**
   * The Job record `buildEnqueue` makes for one job.
   * @param {Record<string, unknown>} options
   */
  function recordOf(options, args = [], task = 't') {
    const call = buildEnqueue('q', task, args, { jobId: 'j', ...options }, NOW_MS);
    return decodeJob(/** @type {Uint8Array} */ (call.argv[3]));
  }

  /** An int enclosed by `depth` arrays. */
  function nested(depth) {
    /** @type {unknown} */
    let value = 1;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  }

  test("the bounds are the spec's", () => {
    assert.equal(MAX_DURATION_MS, CENTURY_MS);
    assert.equal(MAX_SCHEDULE_MS, LAST_MS_OF_9999);
    assert.equal(MAX_RETRIES, 1_000);
  });

  test('priorities 0 and 9 are accepted; anything else that is not an integer 0..9 is not', () => {
    assert.equal(recordOf({ priority: 0 }).priority, 0);
    assert.equal(recordOf({ priority: 9 }).priority, 9);
    for (const priority of [-1, 10, true, false, 1.5, '5', 5n, NaN]) {
      assert.throws(() => recordOf({ priority }), InvalidPriorityError, String(priority));
    }
  });

  test('the longest delay is accepted, one ms more is not', () => {
    assert.equal(recordOf({ delayMs: CENTURY_MS }).dueMs, NOW_MS + CENTURY_MS);
    for (const delayMs of [CENTURY_MS + 1, 2 ** 64, -1, true, 1.5, '10', 10n, Infinity]) {
      assert.throws(() => recordOf({ delayMs }), InvalidDelayError, String(delayMs));
    }
  });

  test('the latest schedule time is accepted, one ms later or before the epoch is not', () => {
    assert.equal(recordOf({ scheduleAt: LAST_MS_OF_9999 }).dueMs, LAST_MS_OF_9999);
    assert.equal(recordOf({ scheduleAt: new Date(LAST_MS_OF_9999) }).dueMs, LAST_MS_OF_9999);
    for (const scheduleAt of [LAST_MS_OF_9999 + 1, -1, new Date(-1), true, 2 ** 64]) {
      assert.throws(() => recordOf({ scheduleAt }), InvalidDelayError, String(scheduleAt));
    }
    assert.throws(() => recordOf({ delayMs: 0, scheduleAt: 0 }), InvalidDelayError);
  });

  test('the largest overrides are written as given', () => {
    const record = recordOf({
      maxRetries: 1_000,
      timeoutMs: CENTURY_MS,
      backoffMs: CENTURY_MS,
      resultTtlMs: CENTURY_MS,
    });
    assert.deepEqual(
      [record.maxRetries, record.timeoutMs, record.backoffMs, record.resultTtlMs],
      [1_000, CENTURY_MS, CENTURY_MS, CENTURY_MS],
    );
  });

  test('an override one past its bound, negative or not an integer is InvalidOptionError', () => {
    /** @type {Array<[string, unknown]>} */
    const cases = [
      ['maxRetries', 1_001],
      ['maxRetries', -1],
      ['maxRetries', true],
      ['maxRetries', 2.5],
      ['timeoutMs', CENTURY_MS + 1],
      ['timeoutMs', 2 ** 64],
      ['backoffMs', CENTURY_MS + 1],
      ['backoffMs', false],
      ['resultTtlMs', CENTURY_MS + 1],
      ['resultTtlMs', 2 ** 63],
      ['resultTtlMs', 60_000n],
    ];
    for (const [name, value] of cases) {
      assert.throws(() => recordOf({ [name]: value }), InvalidOptionError, `${name} ${value}`);
    }
  });

  test('names are counted in bytes of UTF-8 up to their limits', () => {
    // 'ż' is two bytes of UTF-8.
    const call = buildEnqueue(
      'ż'.repeat(64),
      'ż'.repeat(128),
      [],
      { jobId: 'ż'.repeat(128) },
      NOW_MS,
    );
    assert.equal(call.keys[2], `ardiq:{${'ż'.repeat(64)}}:job:${'ż'.repeat(128)}`);
    assert.throws(
      () => buildEnqueue('ż'.repeat(64) + 'q', 't', [], {}, NOW_MS),
      InvalidQueueNameError,
    );
    assert.throws(() => recordOf({}, [], 'ż'.repeat(128) + 't'), InvalidTaskNameError);
    assert.throws(() => recordOf({ jobId: 'ż'.repeat(128) + 'i' }), InvalidJobIdError);
  });

  test('a lone surrogate is a name error, or an unsupported value inside a value', () => {
    assert.throws(
      () => buildEnqueue(`q${LONE_SURROGATE}`, 't', [], {}, NOW_MS),
      InvalidQueueNameError,
    );
    assert.throws(() => recordOf({}, [], `t${LONE_SURROGATE}`), InvalidTaskNameError);
    assert.throws(() => recordOf({ jobId: `j${LONE_SURROGATE}` }), InvalidJobIdError);
    assert.throws(
      () => recordOf({}, [1, LONE_SURROGATE]),
      (error) => error instanceof UnsupportedValueError && error.path === 'args[1]',
    );
    assert.throws(() => recordOf({ kwargs: { [LONE_SURROGATE]: 1 } }), UnsupportedValueError);
  });

  test('an argument and a keyword argument may nest 64 deep; the args array and kwargs map do not count', () => {
    const record = recordOf({ kwargs: { deep: nested(64) } }, [nested(64)]);
    assert.equal(hex(record.args), '91'.repeat(65) + '01');
    assert.equal(hex(record.kwargs), '81a464656570' + '91'.repeat(64) + '01');
  });

  test('a value nested 65 deep is unsupported, with its path', () => {
    const deep = (error, path) =>
      error instanceof UnsupportedValueError &&
      error.path.startsWith(path) &&
      /nesting deeper than 64/.test(error.message);
    assert.throws(
      () => recordOf({}, [nested(65)]),
      (error) => deep(error, 'args[0]'),
    );
    assert.throws(
      () => recordOf({}, [1, { a: nested(64) }]),
      (error) => deep(error, 'args[1].a'),
    );
    assert.throws(
      () => recordOf({ kwargs: { deep: nested(65) } }),
      (error) => deep(error, 'kwargs.deep'),
    );
  });

  test('a batch with one job out of bounds writes nothing', async (t) => {
    const client = await withClient(t);
    const specs = [
      { task: 'ok', delayMs: CENTURY_MS },
      { task: 'ok', maxRetries: 1_000 },
      { task: 'bad', maxRetries: 1_001 },
    ];
    await assert.rejects(client.enqueueMany(specs), InvalidOptionError);
    assert.deepEqual(await redis.keys(`ardiq:{${client.queue}}:*`), []);
  });

  test('an expiry up to the end of year 9999 is written as Job field 14 with spec_version 1.1', () => {
    for (const expiresMs of [NOW_MS + 1, LAST_MS_OF_9999]) {
      const record = recordOf({ expiresMs });
      assert.equal(record.expiresMs, expiresMs);
      assert.equal(record.specVersion, '1.1');
    }
    assert.equal(recordOf({ expiresAt: new Date(NOW_MS + 60_000) }).expiresMs, NOW_MS + 60_000);
    // No expiry: the record is the 1.0 record, byte for byte.
    const plain = recordOf({});
    assert.equal(plain.specVersion, '1.0');
    assert.equal(plain.expiresMs, undefined);
  });

  test('an expiry past year 9999, not an integer, or not later than now is InvalidOptionError', () => {
    const rule = `it must be an integer from 1 to ${LAST_MS_OF_9999}`;
    /** @type {Array<[unknown, string]>} */
    const cases = [
      [LAST_MS_OF_9999 + 1, `invalid expiresMs ${LAST_MS_OF_9999 + 1}: ${rule}`],
      [NOW_MS + 0.5, `invalid expiresMs ${NOW_MS + 0.5}: ${rule}`],
      [0, `invalid expiresMs 0: ${rule}`],
      [-1, `invalid expiresMs -1: ${rule}`],
      [NOW_MS, `invalid expiresMs ${NOW_MS}: it must be later than now (${NOW_MS})`],
      [NOW_MS - 1, `invalid expiresMs ${NOW_MS - 1}: it must be later than now (${NOW_MS})`],
    ];
    for (const [expiresMs, message] of cases) {
      assert.throws(
        () => recordOf({ expiresMs }),
        (error) => error instanceof InvalidOptionError && error.message === message,
        String(expiresMs),
      );
    }
    for (const expiresMs of [true, String(NOW_MS + 1), BigInt(NOW_MS + 1), NaN, Infinity]) {
      assert.throws(
        () => recordOf({ expiresMs }),
        (error) => error instanceof InvalidOptionError && error.message.endsWith(rule),
        String(expiresMs),
      );
    }
  });

  test("a delayed job's expiry must be later than its due time", () => {
    const due = NOW_MS + 1_000;
    const message = `invalid expiresMs ${due}: it must be later than the job's due time (${due})`;
    assert.throws(
      () => recordOf({ delayMs: 1_000, expiresMs: due }),
      (error) => error instanceof InvalidOptionError && error.message === message,
    );
    assert.throws(() => recordOf({ scheduleAt: due, expiresMs: due - 1 }), InvalidOptionError);
    const record = recordOf({ delayMs: 1_000, expiresMs: due + 1 });
    assert.deepEqual([record.dueMs, record.expiresMs], [due, due + 1]);
    // A due time already past means run now: only the clock bounds the expiry.
    assert.equal(recordOf({ scheduleAt: NOW_MS - 5, expiresMs: NOW_MS + 1 }).dueMs, 0);
  });

  test('expiresAt takes a Date, not with expiresMs', () => {
    assert.throws(() => recordOf({ expiresAt: NOW_MS + 1 }), InvalidOptionError);
    assert.throws(
      () => recordOf({ expiresAt: new Date(NOW_MS) }),
      (error) =>
        error instanceof InvalidOptionError &&
        error.message === `invalid expiresAt ${NOW_MS}: it must be later than now (${NOW_MS})`,
    );
    assert.throws(() => recordOf({ expiresAt: new Date(NaN) }), InvalidOptionError);
    assert.throws(
      () => recordOf({ expiresMs: NOW_MS + 1, expiresAt: new Date(NOW_MS + 1) }),
      InvalidOptionError,
    );
  });

  test('a batch with one job expiring in the past writes nothing', async (t) => {
    const client = await withClient(t);
    const specs = [
      { task: 'ok', expiresMs: Date.now() + 60_000 },
      { task: 'bad', expiresMs: Date.now() - 1 },
    ];
    await assert.rejects(client.enqueueMany(specs), InvalidOptionError);
    assert.deepEqual(await redis.keys(`ardiq:{${client.queue}}:*`), []);
  });

  test('an abort TTL past 100 years is InvalidOptionError', async (t) => {
    const client = await withClient(t);
    await assert.rejects(client.abort('some-job', CENTURY_MS + 1), InvalidOptionError);
  });
});
