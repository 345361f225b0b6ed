import assert from 'node:assert/strict';
import { test } from 'node:test';

import { newJobId } from '../dist/index.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('job ids are UUID v7 in canonical lowercase text', () => {
  assert.match(newJobId(), UUID_V7);
});

test('the id starts with the clock in ms', () => {
  const id = newJobId(0x0123456789ab + 10_000_000);
  const ms = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
  assert.ok(ms >= 0x0123456789ab + 10_000_000);
});

test('ids made in one millisecond are unique and sort in the order they were made', () => {
  const now = Date.now() + 60_000;
  const ids = Array.from({ length: 10_000 }, () => newJobId(now));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids) assert.match(id, UUID_V7);
});
