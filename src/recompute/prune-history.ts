import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import { RecomputeBusyError } from '../errors.js';
import { RECOMPUTE_LOCK_KEY } from './run-recompute.js';

export type PruneRequest = {
  /** Runs started before this instant are deleted (except the latest published run). */
  startedBefore: Date;
  /** Count what would be deleted and delete nothing. */
  dryRun?: boolean;
};

export type PruneOutcome = {
  /** Runs deleted (or that would be), with their summaries, tests, attrition and legacy rows. */
  runs: number;
  /** Runs that remain. */
  keptRuns: number;
  /** `patient_facts` versions no remaining run can see, deleted (or that would be). */
  versions: number;
  dryRun: boolean;
};

/**
 * Deletes old runs and the patient-fact versions only they could see, in one transaction, while
 * holding the recompute lock (so no run is writing versions meanwhile; a running recompute makes
 * this fail at once with RecomputeBusyError rather than wait behind it).
 *
 * Kept whatever their age: the latest published run (what readers are served) and every run
 * still marked `running`. A version [valid_from, valid_to) is visible to run r when
 * valid_from <= r.run_no < valid_to, so a closed version with valid_to at or below the smallest
 * remaining run number is visible to no remaining run, and never to a future one (those see
 * only current versions and what they write). Current versions are never deleted. A copy of
 * results (`results_reused_from`) outlives the run it came from.
 */
export async function pruneHistory(db: Kysely<Database>, request: PruneRequest): Promise<PruneOutcome> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_lock(${RECOMPUTE_LOCK_KEY}::bigint) as locked`.execute(connection);
    if (!rows[0]?.locked) {
      throw new RecomputeBusyError('a recompute is running; prune when it has finished');
    }
    try {
      return await connection.transaction().execute(async (trx) => {
        const doomed = trx
          .selectFrom('runs')
          .select('id')
          .where('started_at', '<', request.startedBefore)
          .where('status', '<>', 'running')
          .where('id', 'not in', trx.selectFrom('latest_run').select('id'));
        const runs = request.dryRun
          ? Number(
              (
                await trx
                  .selectFrom(doomed.as('d'))
                  .select((eb) => eb.fn.countAll<string>().as('n'))
                  .executeTakeFirst()
              )?.n ?? 0,
            )
          : Number(
              (await trx.deleteFrom('runs').where('id', 'in', doomed).executeTakeFirst()).numDeletedRows,
            );
        // With a dry run the doomed runs are still there: leave them out of the smallest run number.
        const { rows: remaining } = await sql<{ min: string | null; kept: number }>`
          select min(run_no) filter (where facts_derived)::text as min, count(*)::int as kept
          from runs r
          where not (${request.dryRun === true} and r.id in (${doomed}))`.execute(trx);
        const smallest = remaining[0]?.min ?? null;
        const invisible = sql`valid_to is not null
          and (${smallest}::bigint is null or valid_to <= ${smallest}::bigint)`;
        const versions = request.dryRun
          ? Number(
              (
                await sql<{
                  n: string;
                }>`select count(*)::text as n from patient_facts where ${invisible}`.execute(trx)
              ).rows[0]?.n ?? 0,
            )
          : Number(
              (await sql`delete from patient_facts where ${invisible}`.execute(trx)).numAffectedRows ?? 0,
            );
        return { runs, keptRuns: remaining[0]?.kept ?? 0, versions, dryRun: request.dryRun === true };
      });
    } finally {
      await sql`select pg_advisory_unlock(${RECOMPUTE_LOCK_KEY}::bigint)`.execute(connection);
    }
  });
}
