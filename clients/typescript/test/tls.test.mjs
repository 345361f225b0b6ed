// `rediss://` with a private CA (SPEC.md section 14): the CA given as
// `caFile` or `ca` verifies the server; a certificate that does not verify is
// refused at once with a ConnectionError that says TLS and why, never after
// the connect timeout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { ConnectionError, InvalidOptionError, createClient } from '../dist/index.js';
import { startTlsRedis } from './servers.mjs';
import { redisUrl } from './support.mjs';

// redis-server sends its CA along, so the chain ends in a self-signed
// certificate that the client does not trust.
const UNVERIFIED =
  /^Redis is unreachable: TLS failed: self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\)$/;
// Long enough that a refusal cannot be a timeout in disguise.
const PATIENT_MS = 60_000;

let tls;
before(async () => {
  tls = await startTlsRedis();
});
after(async () => {
  await tls.stop();
});

/** Enqueues a job and reads its status through a client made with `options`. */
async function enqueueAndRead(t, options) {
  const client = await createClient({ url: tls.url, queue: 'tls', ...options });
  t.after(() => client.close());
  const job = await client.enqueue('t', [1]);
  assert.equal(job.outcome, 'queued');
  assert.equal(await job.status(), 'queued');
}

describe('a private CA', () => {
  test('given as caFile verifies the server', async (t) => {
    await enqueueAndRead(t, { caFile: tls.ca.cert });
  });

  test('given as PEM text or a Buffer verifies the server', async (t) => {
    await enqueueAndRead(t, { ca: readFileSync(tls.ca.cert, 'utf8') });
    await enqueueAndRead(t, { ca: readFileSync(tls.ca.cert) });
  });

  test('another CA does not verify the server: refused at once', async () => {
    await assert.rejects(
      createClient({ url: tls.url, caFile: tls.otherCa.cert, connectTimeoutMs: PATIENT_MS }),
      (error) => error instanceof ConnectionError && UNVERIFIED.test(error.message),
    );
  });

  test("without its CA the server's certificate is refused", async () => {
    await assert.rejects(
      createClient({ url: tls.url, connectTimeoutMs: PATIENT_MS }),
      (error) => error instanceof ConnectionError && UNVERIFIED.test(error.message),
    );
  });

  test('rejectUnauthorized: false skips verification, for development', async (t) => {
    await enqueueAndRead(t, { rejectUnauthorized: false });
  });
});

describe('TLS options', () => {
  test('need a rediss:// URL', async () => {
    for (const options of [
      { caFile: '/etc/ca.pem' },
      { ca: 'pem' },
      { rejectUnauthorized: false },
    ]) {
      await assert.rejects(createClient({ url: redisUrl(), ...options }), InvalidOptionError);
    }
  });

  test('a caFile that cannot be read, or both caFile and ca, are refused', async () => {
    await assert.rejects(
      createClient({ url: tls.url, caFile: '/nonexistent/ca.pem' }),
      (error) => error instanceof InvalidOptionError && /nonexistent/.test(error.message),
    );
    await assert.rejects(
      createClient({ url: tls.url, caFile: tls.ca.cert, ca: 'pem' }),
      InvalidOptionError,
    );
  });
});
