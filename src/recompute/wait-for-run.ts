import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Database, RunRow } from '../db/database.js';

export type WaitOutcome =
  | { status: 'published' | 'failed'; run: RunRow }
  | { status: 'timeout'; run: RunRow | null };

/**
 * Waits for the run that answers a request made at `requestedAt` (database clock): the first run
 * for `cutoff` that STARTED at or after the request. Such a run saw every event committed before
 * the request, whichever job (the requester's own or one it was coalesced into) computed it.
 * An abandoned run (its process died) is skipped: the queue hands the job to another worker.
 */
export async function waitForRun(
  db: Kysely<Database>,
  request: { requestedAt: Date; cutoff: string },
  options: { timeoutMs: number; pollMs?: number; onRun?: (run: RunRow) => void },
): Promise<WaitOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  let latest: RunRow | null = null;
  for (;;) {
    const run = await db
      .selectFrom('runs')
      .selectAll()
      .where('started_at', '>=', request.requestedAt)
      .where('cutoff', '=', request.cutoff)
      .where('status', '<>', 'abandoned')
      .orderBy('started_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    if (run) {
      latest = run;
      options.onRun?.(run);
      if (run.status === 'published' || run.status === 'failed') return { status: run.status, run };
    }
    if (Date.now() >= deadline) return { status: 'timeout', run: latest };
    await sleep(options.pollMs ?? 500);
  }
}

/** The database's clock: requests and runs are compared on one clock, whatever the machines. */
export async function databaseNow(db: Kysely<Database>): Promise<Date> {
  const row = await sql<{ now: Date }>`select now() as now`.execute(db);
  return row.rows[0]?.now ?? new Date();
}
