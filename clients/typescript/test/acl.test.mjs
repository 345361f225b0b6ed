// A producer needs no more than SPEC.md section 13 grants it: a Redis ACL
// user with exactly the producer's list, read from SPEC.md itself, enqueues,
// reads status and aborts, and Redis denies it nothing (ACL LOG).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { createClient } from '../dist/index.js';
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

/** An ACL user with the producer's rules on `queue`; resolves to a URL with its credentials. */
async function producerUrl(t, queue) {
  const name = `producer-${randomUUID().slice(0, 8)}`;
  const password = randomUUID();
  const head = ['on', `>${password}`, 'resetkeys', `~ardiq:{${queue}}:*`, 'resetchannels'];
  const rules = [...head, `&ardiq:{${queue}}:events`, ...producerRules()];
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
      const fields = {};
      for (let i = 0; i < entry.length; i += 2) fields[String(entry[i])] = String(entry[i + 1]);
      return fields;
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
