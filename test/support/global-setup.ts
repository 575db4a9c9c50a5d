import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tsImport } from 'tsx/esm/api';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config.js';
import { createDatabase } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { REPO_ROOT } from './cli.js';
import { dropDatabase, ensureServers, recreateDatabase, TEMPLATE_DATABASE } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of the test PostgreSQL server (any database; files derive their own). */
    databaseUrl: string;
    redisUrl: string;
    templateDatabase: string;
  }
}

/**
 * Once per test run: find (or, with Docker, start) PostgreSQL and Redis, then build one migrated
 * template database. Every test file clones its own database from it (`CREATE DATABASE ...
 * TEMPLATE`), which takes milliseconds instead of re-running migrations.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Tests that spawn the CLI run the compiled code (test/support/cli.ts): build it first.
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const config = loadConfig();
  const servers = await ensureServers(config.databaseUrl, config.redisUrl);
  const templateUrl = await recreateDatabase(servers.databaseUrl, TEMPLATE_DATABASE);
  const db = createDatabase({ url: templateUrl, poolMax: 1 });
  try {
    await migrateToLatest(db, (file) => tsImport(file, import.meta.url));
  } finally {
    await db.destroy();
  }
  project.provide('databaseUrl', servers.databaseUrl);
  project.provide('redisUrl', servers.redisUrl);
  project.provide('templateDatabase', TEMPLATE_DATABASE);
  return async () => {
    await dropDatabase(servers.databaseUrl, TEMPLATE_DATABASE);
    await servers.stop();
  };
}
