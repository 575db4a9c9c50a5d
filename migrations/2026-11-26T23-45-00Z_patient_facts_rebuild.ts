import { type Kysely, sql } from 'kysely';

/**
 * `patient_facts_rebuild`: the staging table of a full rebuild derived in partitions
 * (src/recompute/patient-facts.ts). Each partition's connection writes its share of the patients
 * here and commits; the rebuild's own transaction then closes the current versions and moves the
 * staged rows into `patient_facts` at once, so readers and a failed rebuild see either all the
 * new versions or none.
 *
 * UNLOGGED: the rows are rebuilt from the ledger whenever they are needed, so they are not worth
 * WAL (a crash empties the table, which is what a rebuild starts from anyway). No indexes: the
 * table is only written in bulk and read whole. Used only under the recompute lock.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create unlogged table patient_facts_rebuild (like patient_facts including defaults)`.execute(db);
  const worker = await sql<{ found: boolean }>`
    select exists (select 1 from pg_roles where rolname = 'survflow_worker') as found`.execute(db);
  if (worker.rows[0]?.found) {
    await sql`grant select, insert, delete, truncate on patient_facts_rebuild to survflow_worker`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table patient_facts_rebuild`.execute(db);
}
