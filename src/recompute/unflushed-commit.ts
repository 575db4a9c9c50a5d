import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * Lets the current transaction commit without waiting for its WAL to reach disk
 * (`synchronous_commit = off`, this transaction only). For a run's intermediate transactions
 * (the facts refresh, the results): their commits waited ~7-11 ms each for the flush of the
 * rows they wrote, on the nightly run's critical path.
 *
 * Why nothing is put at risk:
 * - a run's publication still commits synchronously, and PostgreSQL flushes WAL in order, so
 *   when a run is reported published everything it wrote before is on disk too;
 * - a crash before that can lose only the latest unflushed transactions, whole and in commit
 *   order (never a part of one), and they hold derived data only: the database is then as if
 *   the unpublished run had failed at that step, which the next run handles already (it
 *   derives again from the ledger mark it finds);
 * - ledger writes (ingest) never use it: an acknowledged event is on disk.
 */
export async function commitWithoutWaitingForFlush(trx: Transaction<Database>): Promise<void> {
  await sql`set local synchronous_commit = off`.execute(trx);
}
