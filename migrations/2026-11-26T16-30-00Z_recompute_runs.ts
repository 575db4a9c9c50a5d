import { type Kysely, sql } from 'kysely';

/**
 * Recompute runs and their materialized results (issue 4).
 *
 * - `runs`: one row per recompute, kept forever (history). A run is written while `running` and
 *   becomes visible to readers only when ONE transaction flips it to `published`; failed and
 *   abandoned runs stay for the record but are never visible through the views.
 * - `run_patients`: the per-patient analytic data set of a run (every patient with a ledger event,
 *   excluded ones with their reason), so every published figure can be traced to its rows.
 * - `run_attrition`, `run_summaries`, `run_tests`: the CONSORT table, one Kaplan-Meier summary per
 *   grouping and group (scalar columns + the full summary as jsonb), one test row per grouping.
 * - Views `latest_run`, `published_summaries` and `latest_summaries`: the stable reading surface,
 *   with small-cell suppression applied.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()::text`))
    .addColumn('status', 'text', (col) =>
      col.notNull().check(sql`status in ('running', 'published', 'failed', 'abandoned')`),
    )
    .addColumn('cutoff', 'date', (col) => col.notNull())
    .addColumn('trigger', 'text', (col) => col.notNull())
    .addColumn('job_id', 'text')
    .addColumn('requested_at', 'timestamptz')
    .addColumn('worker', 'text', (col) => col.notNull())
    .addColumn('parameters', 'jsonb', (col) => col.notNull())
    .addColumn('landmark_months', 'double precision', (col) => col.notNull())
    .addColumn('cycle_group_bounds', sql`integer[]`, (col) => col.notNull())
    .addColumn('suppression_k', 'integer', (col) => col.notNull())
    .addColumn('time_unit', 'text', (col) => col.notNull())
    .addColumn('days_per_month', 'double precision', (col) => col.notNull())
    .addColumn('conf_type', 'text', (col) => col.notNull())
    .addColumn('conf_level', 'double precision', (col) => col.notNull())
    .addColumn('started_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('published_at', 'timestamptz')
    .addColumn('stage', 'text')
    .addColumn('patients_in_ledger', 'integer')
    .addColumn('patients_registered', 'integer')
    .addColumn('patients_analysed', 'integer')
    .addColumn('patients_landmark', 'integer')
    .addColumn('patients_flagged', 'integer')
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createIndex('runs_published_idx')
    .on('runs')
    .columns(['published_at desc', 'id desc'])
    .where(sql.ref('status'), '=', 'published')
    .execute();
  await db.schema.createIndex('runs_status_idx').on('runs').column('status').execute();

  await db.schema
    .createTable('run_patients')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('patient_key', 'text', (col) => col.notNull())
    .addColumn('registered', 'boolean', (col) => col.notNull())
    .addColumn('histology', 'text')
    .addColumn('disease_setting', 'text')
    .addColumn('diagnosed_on', 'date')
    .addColumn('time_zero', 'date')
    .addColumn('death_on', 'date')
    .addColumn('last_alive_on', 'date')
    .addColumn('exit_on', 'date')
    .addColumn('event', 'smallint')
    .addColumn('time_months', 'double precision')
    .addColumn('radiotherapy', 'boolean')
    .addColumn('cycles', 'integer')
    .addColumn('cycle_group', 'text')
    .addColumn('excluded_at', 'text')
    .addColumn('exclusion_reason', 'text')
    .addColumn('analysable', 'boolean', (col) => col.notNull())
    .addColumn('landmark_eligible', 'boolean', (col) => col.notNull())
    .addColumn('landmark_exclusion_reason', 'text')
    .addColumn('landmark_time_months', 'double precision')
    .addColumn('landmark_cycles', 'integer')
    .addColumn('landmark_cycle_group', 'text')
    .addColumn('landmark_radiotherapy', 'boolean')
    .addColumn('flags', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addPrimaryKeyConstraint('run_patients_pkey', ['run_id', 'patient_key'])
    .execute();

  await db.schema
    .createTable('run_attrition')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('step', 'text', (col) => col.notNull())
    .addColumn('patients', 'integer', (col) => col.notNull())
    .addColumn('excluded', 'integer')
    .addColumn('reasons', 'jsonb')
    .addPrimaryKeyConstraint('run_attrition_pkey', ['run_id', 'position'])
    .execute();

  await db.schema
    .createTable('run_summaries')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('grouping', 'text', (col) => col.notNull())
    .addColumn('group_label', 'text', (col) => col.notNull())
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('n', 'integer', (col) => col.notNull())
    .addColumn('events', 'integer', (col) => col.notNull())
    .addColumn('censored', 'integer', (col) => col.notNull())
    .addColumn('median', 'double precision')
    .addColumn('median_lower', 'double precision')
    .addColumn('median_upper', 'double precision')
    .addColumn('surv_12', 'double precision')
    .addColumn('surv_24', 'double precision')
    .addColumn('surv_36', 'double precision')
    .addColumn('rmst', 'double precision')
    .addColumn('rmst_tau', 'double precision')
    .addColumn('follow_up_median', 'double precision')
    .addColumn('summary', 'jsonb', (col) => col.notNull())
    .addPrimaryKeyConstraint('run_summaries_pkey', ['run_id', 'grouping', 'group_label'])
    .execute();

  await db.schema
    .createTable('run_tests')
    .addColumn('run_id', 'text', (col) => col.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('grouping', 'text', (col) => col.notNull())
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('logrank_chisq', 'double precision')
    .addColumn('logrank_df', 'integer')
    .addColumn('logrank_p', 'double precision')
    .addColumn('cox_reference', 'text')
    .addColumn('cox_group', 'text')
    .addColumn('cox_hr', 'double precision')
    .addColumn('cox_lower', 'double precision')
    .addColumn('cox_upper', 'double precision')
    .addColumn('cox_p', 'double precision')
    .addColumn('test', 'jsonb', (col) => col.notNull())
    .addPrimaryKeyConstraint('run_tests_pkey', ['run_id', 'grouping'])
    .execute();

  // Index serving the cohort derivation: its anti join reads every retraction by (source,
  // target id) from this small partial index instead of scanning the ledger a second time. The
  // rest of the derivation reads every live event once (a sequential scan is the right plan for
  // a whole-ledger aggregate); an index per type would only slow ingest down.
  await sql`create index events_retraction_target_idx on events (source, (payload->>'targetEventId'))
    where type = 'event.retracted'`.execute(db);

  await sql`
    create view latest_run as
      select * from runs
      where status = 'published'
      order by published_at desc, id desc
      limit 1`.execute(db);

  // Small-cell suppression: a summary about fewer than the run's k patients keeps its grouping
  // and group and the flag, and loses every figure (n included).
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
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop view if exists latest_summaries`.execute(db);
  await sql`drop view if exists published_summaries`.execute(db);
  await sql`drop view if exists latest_run`.execute(db);
  await sql`drop index if exists events_retraction_target_idx`.execute(db);
  await db.schema.dropTable('run_tests').execute();
  await db.schema.dropTable('run_summaries').execute();
  await db.schema.dropTable('run_attrition').execute();
  await db.schema.dropTable('run_patients').execute();
  await db.schema.dropTable('runs').execute();
}
