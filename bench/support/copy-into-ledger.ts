import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyText, type LedgerRow } from './cohort-file.js';

/**
 * Ledger rows into `events` the set-based way, in one transaction on `client`: COPY into a
 * temporary table, then one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`. The ingest bench's
 * ceiling times exactly this; the recompute bench loads its ledger with it. Returns the rows
 * inserted.
 */
export async function copyIntoLedger(client: pg.Client, rows: LedgerRow[], batchId: string): Promise<number> {
  await client.query('begin');
  try {
    await client.query(
      `create temporary table incoming (source text, event_id text, type text, schema_version smallint,
         patient_key text, occurred_on date, payload jsonb, content_hash text) on commit drop`,
    );
    await pipeline(Readable.from(copyText(rows)), client.query(copyFrom('copy incoming from stdin')));
    const inserted = await client.query(
      `insert into events (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
       select source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, $1
       from incoming on conflict (source, event_id) do nothing`,
      [batchId],
    );
    await client.query('commit');
    return inserted.rowCount ?? 0;
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}
