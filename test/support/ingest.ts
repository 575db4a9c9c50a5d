import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/db/database.js';
import type { IngestJob } from '../../src/jobs/contracts.js';

/** Raw lines -> one ingest job payload (lines numbered from `firstLine`). */
export function jobOf(
  submissionId: string,
  batchIndex: number,
  lines: string[],
  options: { source?: string | null; firstLine?: number } = {},
): IngestJob {
  const first = options.firstLine ?? 1;
  return {
    submissionId,
    batchIndex,
    source: options.source ?? null,
    items: lines.map((raw, i) => ({ line: first + i, raw })),
  };
}

/** Every row of the ledger, for before/after comparisons. */
export async function ledgerSnapshot(db: Kysely<Database>) {
  const { rows } = await sql<Record<string, unknown>>`
    select seq, source, event_id, type, patient_key, occurred_on, payload, content_hash, batch_id
    from events order by seq`.execute(db);
  return rows;
}
