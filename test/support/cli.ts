import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The built CLI. The global setup compiles it once per test run (incrementally), so commands
 * spawned by tests are plain `node` processes running what users run, and start in a fraction
 * of the time a TypeScript loader needs.
 */
export const CLI_MAIN = path.join(REPO_ROOT, 'dist/src/cli/main.js');
