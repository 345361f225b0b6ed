// Enqueues add(2, 3) through the installed npm tarball of ardiq-client, waits
// for the result and prints `ardiq-client-npm <version> <result>`.
import { VERSION, createClient } from 'ardiq-client';

const client = await createClient({ url: process.env.ARDIQ_REDIS_URL, queue: 'release-check' });
try {
  const job = await client.enqueue('add', [2, 3]);
  console.log('ardiq-client-npm', VERSION, await job.result({ timeoutMs: 30_000 }));
} finally {
  await client.close();
}
