import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';

// Return `date` columns as the ISO text they are: clinical dates have no time zone, and
// turning them into JS Dates at local midnight is how off-by-one-day bugs are born.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);
// bigint (int8) stays text: sequence numbers can exceed 2^53 in principle; callers convert.

export type DatabaseOptions = {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /**
   * How long an idle connection stays open before the pool closes it; 0 keeps it for the life
   * of the pool. Default 10 s (pg-pool's): right for commands that start, work and exit.
   */
  idleTimeoutMs?: number;
};

export function createPool(options: DatabaseOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? 10,
    application_name: options.applicationName ?? 'survflow',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    // TCP keepalives: a connection kept idle for hours (idleTimeoutMs 0) whose peer or a
    // firewall between them dropped it is found and discarded while idle, not by the next job.
    keepAlive: true,
  });
  // An idle client losing its connection (server restart) emits here; without a listener
  // the process would crash. The next query reports the failure to its caller instead.
  pool.on('error', () => {});
  // A client that is checked out (e.g. inside a transaction, between two statements) when its
  // server session is terminated emits 'error' on itself, not on the pool: without a listener
  // that kills the process (found by the fault suite's database outage). The statement in
  // flight, or the next one, fails and its job is retried; pg-pool discards the broken client
  // on release.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

export function createDatabase(options: DatabaseOptions): Kysely<Database> {
  return databaseOnPool(createPool(options));
}

// The pool behind each Kysely made here, for the few things Kysely cannot do (COPY, in the
// ingest batch writer).
const pools = new WeakMap<Kysely<Database>, pg.Pool>();

/**
 * Kysely whose destroy() always ends its pool. Kysely connects its driver on its first query,
 * and its own destroy() does nothing when it never ran one, while the pool may hold sessions
 * opened through `poolOf` (the ingest's COPY): a worker that had only ingested then stayed
 * alive after its shutdown until pg-pool's idle timeout closed them (10 s), and for ever once
 * idle sessions are kept (DATABASE_POOL_IDLE_MS=0).
 */
class PooledKysely extends Kysely<Database> {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    super({ dialect: new PostgresDialect({ pool }) });
    this.#pool = pool;
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    if (!this.#pool.ending) await this.#pool.end();
  }
}

/** Kysely over an existing pool (e.g. one whose sessions take a role); `poolOf` finds the pool. */
export function databaseOnPool(pool: pg.Pool): Kysely<Database> {
  const db = new PooledKysely(pool);
  pools.set(db, pool);
  return db;
}

export function poolOf(db: Kysely<Database>): pg.Pool | undefined {
  return pools.get(db);
}

/** The URL of another database on the same server (e.g. `postgres` for CREATE DATABASE). */
export function siblingDatabaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}
