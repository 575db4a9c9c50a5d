import { type Kysely, sql } from 'kysely';

/**
 * A run whose inputs are those of the latest published run (the same patient combinations, the
 * same parameters, the same summaries version) copies that run's results instead of computing
 * them again (src/recompute/reuse-results.ts). Both facts are kept on the run:
 *
 * - `inputs_fingerprint`: md5 over everything a run's counts, attrition, summaries and tests are
 *   computed from; null on runs from before this migration (they are never reused from).
 * - `results_reused_from`: the run whose results were copied, or null when they were computed
 *   (set to null when that run is deleted: the copy stands on its own).
 *
 * The view `latest_run` (`select * from runs ...`, whose column list PostgreSQL fixed when it was
 * created) is replaced with the same definition so it shows the two new columns too; `create or
 * replace` may append columns, and keeps the grants and the views built on it.
 */
const LATEST_RUN = sql`
    create or replace view latest_run as
      select * from runs
      where status = 'published'
      order by published_at desc, id desc
      limit 1`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table runs add column inputs_fingerprint text`.execute(db);
  await sql`alter table runs add column results_reused_from text references runs (id) on delete set null`.execute(
    db,
  );
  await LATEST_RUN.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // `create or replace` cannot drop a view's columns: the view is created again from scratch,
  // with the view that reads it (definition of 2026-11-26T21-00-00Z, unchanged) and its grants.
  await sql`drop view latest_summaries`.execute(db);
  await sql`drop view latest_run`.execute(db);
  await sql`alter table runs drop column results_reused_from`.execute(db);
  await sql`alter table runs drop column inputs_fingerprint`.execute(db);
  await LATEST_RUN.execute(db);
  await sql`
    create view latest_summaries as
      select p.* from published_summaries p
      join latest_run l on l.id = p.run_id`.execute(db);
  for (const role of ['survflow_worker', 'survflow_api']) {
    const exists = await sql<{ found: boolean }>`
      select exists (select 1 from pg_roles where rolname = ${role}) as found`.execute(db);
    if (exists.rows[0]?.found) {
      await sql`grant select on latest_run, latest_summaries to ${sql.id(role)}`.execute(db);
    }
  }
}
