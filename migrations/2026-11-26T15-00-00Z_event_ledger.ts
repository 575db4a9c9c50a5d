import { type Kysely, sql } from 'kysely';

/**
 * The event ledger and the ingest accounting.
 *
 * - `events` is append-only: rows are never updated or deleted; corrections arrive as
 *   `event.retracted` events. `(source, event_id)` is the idempotency key.
 * - `rejected_events` keeps every input that was not accepted, with its raw body (encrypted,
 *   it can carry an MRN) and the reasons, so nothing submitted is ever lost.
 * - `ingest_submissions` / `ingest_batches` account for every submitted event: each batch
 *   records accepted / duplicate / rejected counts in the same transaction as its ledger rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('seq', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('schema_version', 'smallint', (col) => col.notNull())
    .addColumn('patient_key', 'text', (col) => col.notNull())
    .addColumn('occurred_on', 'date', (col) => col.notNull())
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('content_hash', 'text', (col) => col.notNull())
    .addColumn('batch_id', 'text', (col) => col.notNull())
    .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('events_source_event_id_key', ['source', 'event_id'])
    .execute();
  await db.schema
    .createIndex('events_patient_key_idx')
    .on('events')
    .columns(['patient_key', 'occurred_on'])
    .execute();

  await db.schema
    .createTable('ingest_submissions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('channel', 'text', (col) => col.notNull())
    .addColumn('source', 'text')
    .addColumn('description', 'text')
    // Null while the producer is still sending; set when the last batch has been enqueued.
    .addColumn('batch_count', 'integer')
    .addColumn('event_count', 'integer')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('sealed_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('ingest_batches')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('submission_id', 'text', (col) => col.notNull().references('ingest_submissions.id'))
    .addColumn('batch_index', 'integer', (col) => col.notNull())
    .addColumn('event_count', 'integer', (col) => col.notNull())
    .addColumn('accepted', 'integer', (col) => col.notNull())
    .addColumn('duplicate', 'integer', (col) => col.notNull())
    .addColumn('rejected', 'integer', (col) => col.notNull())
    .addColumn('processed_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('ingest_batches_submission_index_key', ['submission_id', 'batch_index'])
    .execute();

  await db.schema
    .createTable('rejected_events')
    .addColumn('id', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('batch_id', 'text', (col) => col.notNull())
    .addColumn('item_index', 'integer', (col) => col.notNull())
    .addColumn('line_number', 'integer')
    .addColumn('source', 'text')
    .addColumn('event_id', 'text')
    .addColumn('event_type', 'text')
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('invalid', 'conflict')`))
    .addColumn('reasons', 'jsonb', (col) => col.notNull())
    // AES-256-GCM: 12-byte IV || 16-byte tag || ciphertext.
    .addColumn('raw_body', 'bytea', (col) => col.notNull())
    .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('resolved_at', 'timestamptz')
    .addUniqueConstraint('rejected_events_batch_item_key', ['batch_id', 'item_index'])
    .execute();
  await db.schema
    .createIndex('rejected_events_received_idx')
    .on('rejected_events')
    .column('received_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rejected_events').execute();
  await db.schema.dropTable('ingest_batches').execute();
  await db.schema.dropTable('ingest_submissions').execute();
  await db.schema.dropTable('events').execute();
}
