import { type Kysely, sql } from 'kysely';

/**
 * HTTP API authentication and idempotent HTTP submissions.
 *
 * - `api_sources`: the producing systems. The name is the `source` of every event they send.
 * - `api_keys`: a source's keys. Only a SHA-256 hash of the key is stored (keys are 32 random
 *   bytes, so a fast hash is enough: there is nothing to brute-force), plus the short, non-secret
 *   `prefix` the key starts with, which is how a presented key is looked up.
 * - `api_submissions`: one row per accepted HTTP submission, keyed by source and idempotency
 *   key, with a hash of the body and the answer that was given, so a re-send gets the same
 *   answer and enqueues nothing twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_sources')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('source', 'text', (col) => col.notNull().references('api_sources.name'))
    .addColumn('key_hash', 'text', (col) => col.notNull())
    .addColumn('scopes', sql`text[]`, (col) =>
      col.notNull().check(sql`scopes <@ array['ingest', 'query', 'admin']::text[]`),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('api_keys_source_idx').on('api_keys').column('source').execute();

  await db.schema
    .createTable('api_submissions')
    .addColumn('submission_id', 'text', (col) => col.primaryKey())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('idempotency_key', 'text', (col) => col.notNull())
    .addColumn('body_sha256', 'text', (col) => col.notNull())
    .addColumn('response', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('api_submissions_source_key_key', ['source', 'idempotency_key'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_submissions').execute();
  await db.schema.dropTable('api_keys').execute();
  await db.schema.dropTable('api_sources').execute();
}
