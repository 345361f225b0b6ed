import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { SCRIPT_SOURCES } from '../dist/index.js';
import { renderScriptsModule } from '../scripts/embed.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const specScripts = join(here, '..', '..', '..', 'spec', 'scripts');
const committed = join(here, '..', 'src', 'scripts.generated.ts');

test('the committed scripts module is what `npm run embed` makes from spec/scripts', () => {
  assert.equal(
    readFileSync(committed, 'utf8'),
    renderScriptsModule(),
    'src/scripts.generated.ts is stale: run `npm run embed` and commit it',
  );
});

test('every script of spec/scripts is embedded byte for byte', () => {
  const names = readdirSync(specScripts).filter((name) => name.endsWith('.lua'));
  assert.ok(names.includes('enqueue.lua'));
  for (const name of names) {
    const key = name.slice(0, -'.lua'.length);
    assert.equal(SCRIPT_SOURCES[key], readFileSync(join(specScripts, name), 'utf8'), name);
  }
  assert.equal(Object.keys(SCRIPT_SOURCES).length, names.length);
});
