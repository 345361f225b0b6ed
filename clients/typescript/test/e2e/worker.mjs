// The Python worker of the end-to-end tests: `python -m ardiq run
// e2e_tasks:app` (tests/e2e_tasks.py) in a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { redisUrl } from '../support.mjs';

const repository = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const python = process.env.ARDIQ_PYTHON ?? join(repository, '.venv', 'bin', 'python');
// Generous bounds that only stop a hung run; nothing is asserted about speed.
export const RESULT_TIMEOUT_MS = 60_000;
const WORKER_EXIT_TIMEOUT_MS = 120_000;

/**
 * Starts a worker on `queue`; `burst` drains the queue and exits; `env`
 * adds to its environment.
 */
export function startWorker(queue, { burst, env = {} }) {
  const args = ['-m', 'ardiq', 'run', 'e2e_tasks:app', ...(burst ? ['--burst'] : [])];
  const child = spawn(python, args, {
    cwd: join(repository, 'tests'),
    env: { ...process.env, ARDIQ_REDIS_URL: redisUrl(), ARDIQ_QUEUE: queue, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    output: () => output,
    /** Resolves to the exit code; kills the worker and fails if it hangs. */
    async exit() {
      let timer;
      const hung = new Promise((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(`the worker did not exit within ${WORKER_EXIT_TIMEOUT_MS} ms:\n${output}`),
          );
        }, WORKER_EXIT_TIMEOUT_MS);
      });
      try {
        const { code, signal } = await Promise.race([exited, hung]);
        assert.equal(signal, null, `the worker died of ${signal}:\n${output}`);
        return code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
