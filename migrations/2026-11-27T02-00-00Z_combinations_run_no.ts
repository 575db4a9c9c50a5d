import { type Kysely, sql } from 'kysely';

/**
 * `patient_facts_state.combinations_run_no`: the run whose facts refresh last changed
 * `patient_fact_combinations` (a full recount, or an incremental refresh that changed any
 * combination's count). Run numbers are never reused, so equal values mean identical
 * combinations: a run's inputs fingerprint is computed from it instead of hashing the text of
 * every combination row (~100 ms per run at 100k patients).
 *
 * The existing state row gets its own run: the combinations were last written by that refresh
 * or an earlier one, and naming a later run than the true one only makes the next run compute
 * its results instead of copying them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table patient_facts_state add column combinations_run_no bigint`.execute(db);
  await sql`update patient_facts_state set combinations_run_no = run_no`.execute(db);
  await sql`alter table patient_facts_state alter column combinations_run_no set not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table patient_facts_state drop column combinations_run_no`.execute(db);
}
