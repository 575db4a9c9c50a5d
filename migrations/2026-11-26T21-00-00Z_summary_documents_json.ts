import { type Kysely, sql } from 'kysely';

/**
 * Cheaper summary writes: every run stores ~6 MB of summary documents, nearly all of it the step
 * curves, and writing them was the largest fixed cost of a run.
 *
 * - `run_summaries.summary` becomes `json` (was `jsonb`): PostgreSQL only checks the text instead
 *   of converting every number to `numeric` and building a binary tree (~70 ms instead of ~150
 *   ms per run). Nothing queries inside the documents in SQL; readers get the same values (key
 *   order as written). Existing documents are converted in place.
 * - The column is compressed with lz4 instead of pglz (~10 ms instead of ~160 ms per run, for a
 *   slightly larger result). A server built without lz4 (every packaged PostgreSQL 14+ has it)
 *   keeps pglz rather than failing the migration over a speed-up.
 *
 * The views over the column are dropped and created again unchanged (a column a view uses cannot
 * change type), with the SELECT grants the roles had on them.
 */
const ROLES = ['survflow_worker', 'survflow_api'];

async function dropViews(db: Kysely<any>): Promise<void> {
  await sql`drop view latest_summaries`.execute(db);
  await sql`drop view published_summaries`.execute(db);
}

// The definitions of 2026-11-26T16-30-00Z_recompute_runs, unchanged.
async function createViews(db: Kysely<any>): Promise<void> {
  await sql`
    create view published_summaries as
      select
        s.run_id, r.cutoff, r.published_at, s.grouping, s.group_label, s.position,
        (s.n < r.suppression_k) as suppressed,
        case when s.n < r.suppression_k then null else s.n end as n,
        case when s.n < r.suppression_k then null else s.events end as events,
        case when s.n < r.suppression_k then null else s.censored end as censored,
        case when s.n < r.suppression_k then null else s.median end as median,
        case when s.n < r.suppression_k then null else s.median_lower end as median_lower,
        case when s.n < r.suppression_k then null else s.median_upper end as median_upper,
        case when s.n < r.suppression_k then null else s.surv_12 end as surv_12,
        case when s.n < r.suppression_k then null else s.surv_24 end as surv_24,
        case when s.n < r.suppression_k then null else s.surv_36 end as surv_36,
        case when s.n < r.suppression_k then null else s.rmst end as rmst,
        case when s.n < r.suppression_k then null else s.rmst_tau end as rmst_tau,
        case when s.n < r.suppression_k then null else s.follow_up_median end as follow_up_median,
        case when s.n < r.suppression_k then null else s.summary end as summary
      from run_summaries s
      join runs r on r.id = s.run_id and r.status = 'published'`.execute(db);
  await sql`
    create view latest_summaries as
      select p.* from published_summaries p
      join latest_run l on l.id = p.run_id`.execute(db);
  for (const role of ROLES) {
    const exists = await sql<{ found: boolean }>`
      select exists (select 1 from pg_roles where rolname = ${role}) as found`.execute(db);
    if (!exists.rows[0]?.found) continue;
    await sql`grant select on published_summaries, latest_summaries to ${sql.id(role)}`.execute(db);
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  await dropViews(db);
  await sql`alter table run_summaries alter column summary type json using summary::json`.execute(db);
  // After the type change, which resets the column's compression to the default.
  await sql`
    do $$
    begin
      alter table run_summaries alter column summary set compression lz4;
    exception when feature_not_supported then
      raise notice 'this server has no lz4: run summaries stay pglz-compressed';
    end $$`.execute(db);
  await createViews(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await dropViews(db);
  await sql`alter table run_summaries alter column summary type jsonb using summary::jsonb`.execute(db);
  await sql`alter table run_summaries alter column summary set compression default`.execute(db);
  await createViews(db);
}
