/** This package's version, read from its package.json: the one source. */
import { createRequire } from 'node:module';

// dist/version.js and src/version.ts both sit one level below package.json.
const manifest = createRequire(import.meta.url)('../package.json') as { version: string };

/** The version of this package, as npm installed it. */
export const VERSION: string = manifest.version;
