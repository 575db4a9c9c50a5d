import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * The advisory lock every INSERT into `events` takes in shared mode, before any of its rows gets
 * a `seq` (the statement trigger `events_ledger_write_lock`, migration 2026-11-26T18-00-00Z,
 * which repeats this key).
 */
export const LEDGER_WRITE_LOCK_KEY = 0x5f_4c_45_44; // "_LED"

/**
 * The ledger's high-water mark: a `seq` such that every event with a lower or equal `seq` is
 * committed and visible, so "events with seq > mark" is exactly what a later run has not seen.
 *
 * `max(seq)` alone is not enough: `seq` is taken at insert time and transactions commit in any
 * order, so a batch holding seq 100 can commit after one holding 101. Holding the ledger-write
 * lock exclusively for one index lookup waits for the writes in flight to end and keeps new ones
 * from taking a `seq` meanwhile (they wait a few milliseconds). The identity sequence must keep
 * its default CACHE 1, or a session could hold pre-allocated values below the mark.
 */
export async function readLedgerHighWater(db: Kysely<Database>): Promise<string> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${LEDGER_WRITE_LOCK_KEY}::bigint)`.execute(trx);
    // A new statement: in READ COMMITTED its snapshot is taken after the lock was granted.
    const { rows } = await sql<{
      seq: string;
    }>`select coalesce(max(seq), 0)::text as seq from events`.execute(trx);
    return rows[0]?.seq ?? '0';
  });
}
