import { type Kysely, sql } from 'kysely';

/**
 * `patient_fact_combinations` made cheaper to upsert (every incremental refresh adds its ~1,500
 * count changes to it: ~40-60 ms of a 100k-patient night, ~27 µs a row, measured):
 *
 * - the unique key lists its columns most distinct first (the two times, then the groups, then
 *   the exclusion columns). The set of columns, and so what is unique, is unchanged. In the old
 *   order the first seven columns have a handful of values between them, so nearly every
 *   comparison on the way down the index compared seven or more columns before the time told two
 *   keys apart; now the first column usually does;
 * - fillfactor 70: an upsert changes only `patients`, which no index holds, so with room on the
 *   page the new row version stays on it (a HOT update) and the 14-column key gets no new index
 *   entry. The rows are written again (a copy, truncate, insert back) so that the existing
 *   pages get that room now rather than at the next full rebuild.
 *
 * Together: the upsert of a night's changes took 58-73 ms before and 14-25 ms after on the
 * bench's 100k combinations.
 */
const KEY_BEFORE = `excluded_at, reason, landmark_reason, registered, analysable, landmark_eligible, flagged,
  time_months, event, radiotherapy, cycle_group, landmark_time_months, landmark_cycle_group, landmark_radiotherapy`;
const KEY_AFTER = `time_months, landmark_time_months, cycle_group, event, radiotherapy, landmark_cycle_group,
  landmark_radiotherapy, excluded_at, reason, landmark_reason, registered, analysable, landmark_eligible, flagged`;

async function rewriteWith(db: Kysely<any>, fillfactor: number | 'default', key: string): Promise<void> {
  // The Migrator runs a migration in a transaction; a caller without one (a test) gets one here,
  // since the temporary table must be seen by every statement (one connection).
  if (!db.isTransaction) return db.transaction().execute((trx) => rewriteWith(trx, fillfactor, key));
  await sql
    .raw(
      fillfactor === 'default'
        ? 'alter table patient_fact_combinations reset (fillfactor)'
        : `alter table patient_fact_combinations set (fillfactor = ${fillfactor})`,
    )
    .execute(db);
  await sql`create temporary table combinations_held on commit drop as
    select * from patient_fact_combinations`.execute(db);
  await sql`truncate patient_fact_combinations`.execute(db);
  await sql
    .raw(`alter table patient_fact_combinations drop constraint patient_fact_combinations_key,
      add constraint patient_fact_combinations_key unique nulls not distinct (${key})`)
    .execute(db);
  await sql`insert into patient_fact_combinations select * from combinations_held`.execute(db);
  await sql`drop table combinations_held`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await rewriteWith(db, 70, KEY_AFTER);
}

export async function down(db: Kysely<any>): Promise<void> {
  await rewriteWith(db, 'default', KEY_BEFORE);
}
