/**
 * Job ids: UUID version 7 (RFC 9562) in canonical lowercase text, the form
 * SPEC.md section 3 asks for when the caller gives no id.
 */
import { randomFillSync } from 'node:crypto';

let lastMs = -1;
let sequence = 0;
const random = new Uint8Array(16);
// Random bytes are drawn in bulk: one system call per id would cost more
// than everything else enqueueing a job does.
const pool = new Uint8Array(16 * 256);
let poolAt = pool.length;

/** Fills `random` with fresh random bytes from the pool. */
function nextRandom(): void {
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  random.set(pool.subarray(poolAt, poolAt + 16));
  poolAt += 16;
}
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A new UUID v7. The 12-bit `rand_a` field is a counter within one
 * millisecond (RFC 9562 section 6.2, method 1), so ids made by one process
 * sort in the order they were made.
 */
export function newJobId(now: number = Date.now()): string {
  nextRandom();
  if (now > lastMs) {
    lastMs = now;
    // Start low in the counter's range so a busy millisecond rarely overflows it.
    sequence = ((random[6] ?? 0) << 4) | ((random[7] ?? 0) >> 4);
    sequence &= 0x7ff;
  } else {
    sequence += 1;
    if (sequence > 0xfff) {
      // The counter ran out: borrow the next millisecond, as RFC 9562 allows.
      lastMs += 1;
      sequence = 0;
    }
  }
  const ms = lastMs;
  const b = random;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (sequence >> 8);
  b[7] = sequence & 0xff;
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
    text += hex[b[i] ?? 0];
  }
  return text;
}
