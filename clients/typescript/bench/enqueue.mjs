// Batch-enqueue benchmark: enqueues N jobs (argument, default 20000) to
// REDIS_URL with `enqueueMany` on a fresh queue, deletes the queue's keys,
// and prints {"jobs": N, "seconds": S, "jobs_per_s": R} as JSON.
import { randomUUID } from 'node:crypto';

import { createClient } from '../dist/index.js';

const url = process.env.REDIS_URL;
if (!url) {
  console.error('REDIS_URL is not set: point it at the Redis to benchmark against');
  process.exit(2);
}
const jobs = Number(process.argv[2] ?? 20_000);
if (!Number.isSafeInteger(jobs) || jobs <= 0) {
  console.error(
    `usage: node bench/enqueue.mjs [JOBS]: JOBS must be a positive integer, not ${process.argv[2]}`,
  );
  process.exit(2);
}

const queue = `bench-ts-${randomUUID()}`;
const client = await createClient({ url, queue });
try {
  const specs = Array.from({ length: jobs }, (_, i) => ({ task: 'add', args: [i, 1] }));
  const started = process.hrtime.bigint();
  await client.enqueueMany(specs);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ jobs, seconds, jobs_per_s: jobs / seconds }));
} finally {
  await cleanUp(queue);
  await client.close();
}

/** Deletes every key of the benchmark's queue. */
async function cleanUp(name) {
  const { createClient: createRedisClient } = await import('redis');
  const redis = createRedisClient({ url });
  redis.on('error', () => {});
  await redis.connect();
  const keys = [];
  for await (const batch of redis.scanIterator({ MATCH: `ardiq:{${name}}:*`, COUNT: 1000 })) {
    keys.push(...batch);
  }
  for (let i = 0; i < keys.length; i += 1000) await redis.unlink(keys.slice(i, i + 1000));
  await redis.close();
}
