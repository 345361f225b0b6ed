// What the tests share: the Redis they run against (REDIS_URL, required),
// fresh queue names, and a raw node-redis connection to inspect keys.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';

import { createClient as createRedisClient, RESP_TYPES } from 'redis';

/** The URL of the test Redis; a run without REDIS_URL fails here, loudly. */
export function redisUrl() {
  const url = process.env.REDIS_URL;
  if (!url) {
    throw new Error(
      'REDIS_URL is not set: run the suite through the Redis fixture: `make test-ts` from the ' +
        'repository root, or `../../.venv/bin/python -m ardiq_testing.redis -- npm test` here',
    );
  }
  return url;
}

/** A queue name no other test uses. */
export function freshQueue(prefix = 'ts') {
  return `${prefix}-${randomUUID()}`;
}

/** A raw connection to the test Redis whose bulk replies are Buffers. */
export async function rawRedis() {
  const redis = createRedisClient({ url: redisUrl() });
  redis.on('error', () => {});
  await redis.connect();
  return redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}

/** A loopback TCP port that nothing listens on right now. */
export async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Lowercase hex of bytes. */
export function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}
