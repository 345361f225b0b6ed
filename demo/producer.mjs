// The TypeScript producer of `make demo`: `enqueue` enqueues add(20, 22) and
// prints the job id; `result <id>` prints the job's result.
import { createClient } from '../clients/typescript/dist/index.js';

const client = await createClient({ url: process.env.REDIS_URL, queue: process.env.ARDIQ_QUEUE ?? 'default' });
try {
  const [mode, id] = process.argv.slice(2);
  if (mode === 'enqueue') {
    const job = await client.enqueue('add', [20, 22]);
    console.log(job.id);
  } else if (mode === 'result' && id) {
    console.log(String(await client.job(id).result({ timeoutMs: 30_000 })));
  } else {
    throw new Error('usage: producer.mjs enqueue | result <job id>');
  }
} finally {
  await client.close();
}
