import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResult,
  Migrator,
  sql,
} from 'kysely';
import pg from 'pg';
import { DatabaseError } from '../errors.js';
import { databaseName, siblingDatabaseUrl } from './connection.js';
import type { Database } from './database.js';

// From src/db (tsx, vitest) and from dist/src/db (built) alike, migrations/ sits two levels up.
const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_FOLDER = path.resolve(here, '../../migrations');

export type ModuleImporter = (absolutePath: string) => Promise<unknown>;

const nativeImport: ModuleImporter = (absolutePath) => import(pathToFileURL(absolutePath).href);

/**
 * Kysely's FileMigrationProvider, with the import step injectable: the built CLI imports
 * compiled .js files natively, while a TypeScript host that does not transform dynamic imports
 * (vitest's global setup) passes tsx's importer for the .ts sources.
 */
class FolderMigrationProvider implements MigrationProvider {
  constructor(
    private readonly folder: string,
    private readonly importModule: ModuleImporter,
  ) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of await fs.readdir(this.folder)) {
      if (!/\.(ts|js|mjs)$/.test(file) || file.endsWith('.d.ts')) continue;
      const module = (await this.importModule(path.join(this.folder, file))) as Partial<Migration>;
      if (typeof module.up !== 'function') continue;
      migrations[file.replace(/\.(ts|js|mjs)$/, '')] = module as Migration;
    }
    return migrations;
  }
}

/** Brings the schema to the latest migration. Returns what ran; throws if one failed. */
export async function migrateToLatest(
  db: Kysely<Database>,
  importModule: ModuleImporter = nativeImport,
): Promise<MigrationResult[]> {
  const migrator = new Migrator({
    db,
    provider: new FolderMigrationProvider(MIGRATIONS_FOLDER, importModule),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    // Kysely can fail before running any migration (e.g. an applied migration whose file is
    // gone): then no result names one, and the cause is the message.
    throw new DatabaseError(
      failed === undefined
        ? `migrations could not run: ${error instanceof Error ? error.message : String(error)}`
        : `migration ${failed} failed`,
      { cause: error },
    );
  }
  return results ?? [];
}

/** Creates the database named in `url` if it does not exist (needs CREATEDB on the server). */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: siblingDatabaseUrl(url, 'postgres') });
  try {
    await client.connect();
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (error) {
    throw new DatabaseError(`cannot ensure database ${name} exists`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}

/** A cheap liveness probe used by readiness checks and start-up. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
