// A producer needs no more than SPEC.md section 13 grants it: a Redis ACL
// user with exactly the producer's list, read from SPEC.md itself, enqueues,
// reads status and aborts, and Redis denies it nothing (ACL LOG). With the
// 1.1 list for waiting its waits are told when jobs end; without it they
// poll.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { State, createClient, encodeStatus, encodeValue } from '../dist/index.js';
import { freshQueue, rawRedis, redisUrl } from './support.mjs';

const SPEC = new URL('../../../spec/SPEC.md', import.meta.url);

/** The `-@all +ping ...` rules of the producer's `ACL SETUSER` in SPEC.md section 13. */
function producerRules() {
  const block = /A producer:\s*```\s*ACL SETUSER producer ([\s\S]*?)```/.exec(
    readFileSync(SPEC, 'utf8'),
  );
  assert.ok(block, 'SPEC.md section 13 has no producer ACL block');
  return block[1].split(/\s+/).filter((rule) => rule.startsWith('+') || rule.startsWith('-'));
}

let redis;
before(async () => {
  redis = await rawRedis();
});
after(async () => {
  await redis.close();
});

/** The commands SPEC.md section 13 adds for a producer that waits for results (1.1). */
function waitingRules() {
  const text = readFileSync(SPEC, 'utf8');
  const sentence =
    /a producer that waits for results is told when\s+they end only with ([^(]*)/.exec(text);
  assert.ok(sentence, 'SPEC.md section 13 names no commands for waiting producers');
  return [...sentence[1].matchAll(/`(\+[^`]+)`/g)].flatMap((match) => match[1].split(/\s+/));
}

/** An ACL user with the producer's rules on `queue`; resolves to a URL with its credentials. */
async function producerUrl(t, queue, extra = []) {
  const name = `producer-${randomUUID().slice(0, 8)}`;
  const password = randomUUID();
  const head = ['on', `>${password}`, 'resetkeys', `~ardiq:{${queue}}:*`, 'resetchannels'];
  const rules = [...head, `&ardiq:{${queue}}:events`, ...producerRules(), ...extra];
  try {
    await redis.sendCommand(['ACL', 'SETUSER', name, ...rules]);
  } catch (error) {
    // CLIENT SETINFO came with Redis 7.2; an older Redis refuses to name it
    // in a rule. Leaving it out grants less, never more.
    if (!String(error).includes("'+client|setinfo'")) throw error;
    const known = rules.filter((rule) => rule !== '+client|setinfo');
    await redis.sendCommand(['ACL', 'SETUSER', name, ...known]);
  }
  t.after(() => redis.sendCommand(['ACL', 'DELUSER', name]));
  const url = new URL(redisUrl());
  url.username = name;
  url.password = password;
  return { url: url.toString(), name };
}

/** What Redis refused `user` (the log is the server's; other tests' users are left out). */
async function denials(user) {
  const log = await redis.sendCommand(['ACL', 'LOG']);
  return log
    .map((entry) => {
      // A flat array of fields and values over RESP2, a map over RESP3.
      const pairs = Array.isArray(entry)
        ? Array.from({ length: entry.length / 2 }, (_, i) => [entry[2 * i], entry[2 * i + 1]])
        : Object.entries(entry);
      return Object.fromEntries(pairs.map(([field, value]) => [String(field), String(value)]));
    })
    .filter((fields) => fields.username === user)
    .map((fields) => `${fields.reason} ${fields.object}`);
}

test('the rule list is read from the spec', () => {
  const rules = producerRules();
  assert.equal(rules[0], '-@all');
  for (const rule of ['+evalsha', '+eval', '+script|load', '+publish']) {
    assert.ok(rules.includes(rule), rule);
  }
});

test('a producer user enqueues, reads status and aborts', async (t) => {
  const queue = freshQueue('acl');
  const { url, name } = await producerUrl(t, queue);
  const client = await createClient({ url, queue });
  t.after(() => client.close());
  const queued = await client.enqueue('t', [1]);
  const scheduled = await client.enqueue('t', [], { delayMs: 60_000 });
  // An empty script cache makes the client fall back to EVAL.
  await redis.sendCommand(['SCRIPT', 'FLUSH']);
  const batch = await client.enqueueMany([{ task: 't' }, { task: 't', jobId: queued.id }]);
  assert.deepEqual(
    [queued.outcome, scheduled.outcome, ...batch.map((job) => job.outcome)],
    ['queued', 'scheduled', 'queued', 'duplicate'],
  );
  assert.equal(await queued.status(), 'queued');
  assert.equal(await scheduled.status(), 'scheduled');
  assert.equal(await client.job('never-enqueued').status(), 'not_found');
  assert.equal(await scheduled.abort(), 'aborted');
  assert.equal(await queued.abort(), 'abort_requested');
  assert.equal(await scheduled.status(), 'aborted');
  assert.deepEqual(await denials(name), []);
});

/** Stores a COMPLETE status for `id` once a wait on it is registered, or after `ms`. */
async function finishLater(queue, id, value, ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const record = encodeStatus({
    specVersion: '1.0',
    state: State.COMPLETE,
    value: encodeValue(value),
    attempts: 1,
    enqueuedMs: 1,
    startedMs: 2,
    finishedMs: 3,
    workerId: 'w-1',
    task: 't',
  });
  await redis.set(`ardiq:{${queue}}:job:${id}`, Buffer.from(record), { PX: 60_000 });
  if ((await redis.zScore(`ardiq:{${queue}}:waiters`, id)) !== null) {
    await redis.publish(`ardiq:{${queue}}:events`, `done:${id}`);
  }
}

test('the waiting list is read from the spec', () => {
  assert.deepEqual(waitingRules().sort(), [
    '+subscribe',
    '+unsubscribe',
    '+zcard',
    '+zremrangebyscore',
  ]);
});

test('a producer with the waiting list is told when its job ends', async (t) => {
  const queue = freshQueue('acl');
  const { url, name } = await producerUrl(t, queue, waitingRules());
  const client = await createClient({ url, queue });
  t.after(() => client.close());
  const job = await client.enqueue('t', [1]);
  const pending = job.result({ timeoutMs: 30_000 });
  const deadline = Date.now() + 10_000;
  while ((await redis.zScore(`ardiq:{${queue}}:waiters`, job.id)) === null) {
    assert.ok(Date.now() < deadline, 'the wait was never registered');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await finishLater(queue, job.id, 'told', 0);
  assert.equal(await pending, 'told');
  assert.deepEqual(await denials(name), []);
});

test('a producer without the waiting list polls, and is refused SUBSCRIBE only once', async (t) => {
  const queue = freshQueue('acl');
  const { url, name } = await producerUrl(t, queue);
  const client = await createClient({ url, queue });
  t.after(() => client.close());
  const jobs = [await client.enqueue('t', [1]), await client.enqueue('t', [2])];
  const [first, second] = await Promise.all([
    Promise.all([jobs[0].result({ timeoutMs: 30_000 }), finishLater(queue, jobs[0].id, 'a', 300)]),
    Promise.all([jobs[1].result({ timeoutMs: 30_000 }), finishLater(queue, jobs[1].id, 'b', 300)]),
  ]);
  assert.deepEqual([first[0], second[0]], ['a', 'b']);
  assert.equal(await redis.exists(`ardiq:{${queue}}:waiters`), 0);
  assert.deepEqual(await denials(name), ['command subscribe']);
});
