import { type Kysely, sql } from 'kysely';

/**
 * Step curves as columns: each summary's Kaplan-Meier step curve moves out of its JSON document
 * into eight `float8[]` columns of `run_summaries` (`curve_time`, `curve_n_risk`,
 * `curve_n_event`, `curve_n_censor`, `curve_surv`, `curve_std_err`, `curve_lower`,
 * `curve_upper`; element i of each is the curve's i-th point, NULL where the JSON had null).
 *
 * The curves were ~95% of the ~5 MB of JSON a run wrote at 100,000 patients: every number
 * formatted as text in the worker and validated as JSON text by PostgreSQL, the largest fixed
 * cost of a run after the statistics. As arrays they are written in PostgreSQL's binary array
 * format (no number is formatted or parsed; 1.9 MB), stored uncompressed (`storage external`:
 * doubles do not compress, so the attempt is skipped), and stay readable in SQL
 * (`unnest(curve_time, curve_surv)`).
 *
 * Existing documents are converted in place: their curves are copied into the columns and
 * removed from the documents, so every reader finds a run's curve in one place. The views gain
 * the columns, NULL for a suppressed group like every other figure.
 */
const CURVE_FIELDS = [
  ['curve_time', 'time'],
  ['curve_n_risk', 'nRisk'],
  ['curve_n_event', 'nEvent'],
  ['curve_n_censor', 'nCensor'],
  ['curve_surv', 'surv'],
  ['curve_std_err', 'stdErr'],
  ['curve_lower', 'lower'],
  ['curve_upper', 'upper'],
] as const;

const ROLES = ['survflow_worker', 'survflow_api'];

// The summary columns of published_summaries, as 2026-11-26T16-30-00Z_recompute_runs defined
// them (and 2026-11-26T21-00-00Z_summary_documents_json created them again).
const MASKED_COLUMNS = [
  'n',
  'events',
  'censored',
  'median',
  'median_lower',
  'median_upper',
  'surv_12',
  'surv_24',
  'surv_36',
  'rmst',
  'rmst_tau',
  'follow_up_median',
  'summary',
];

async function createViews(db: Kysely<any>, columns: readonly string[]): Promise<void> {
  const masked = sql.join(
    columns.map(
      (c) => sql`case when s.n < r.suppression_k then null else s.${sql.ref(c)} end as ${sql.ref(c)}`,
    ),
  );
  await sql`
    create view published_summaries as
      select
        s.run_id, r.cutoff, r.published_at, s.grouping, s.group_label, s.position,
        (s.n < r.suppression_k) as suppressed,
        ${masked}
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

async function dropViews(db: Kysely<any>): Promise<void> {
  await sql`drop view latest_summaries`.execute(db);
  await sql`drop view published_summaries`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  for (const [column] of CURVE_FIELDS) {
    await sql`alter table run_summaries add column ${sql.ref(column)} float8[]`.execute(db);
    await sql`alter table run_summaries alter column ${sql.ref(column)} set storage external`.execute(db);
  }
  // JSON numbers of a curve are doubles written by JSON.stringify: read back as float8 they are
  // the same doubles.
  await sql`
    update run_summaries set
      ${sql.join(
        CURVE_FIELDS.map(
          ([column, field]) => sql`${sql.ref(column)} = array(
            select (point->>${field})::float8
            from json_array_elements(summary->'curve') with ordinality as p(point, i) order by i)`,
        ),
      )},
      summary = (summary::jsonb - 'curve')::json
    where json_typeof(summary->'curve') = 'array'`.execute(db);
  await dropViews(db);
  await createViews(db, [...MASKED_COLUMNS, ...CURVE_FIELDS.map(([column]) => column)]);
}

export async function down(db: Kysely<any>): Promise<void> {
  await dropViews(db);
  const fields = sql.join(CURVE_FIELDS.map(([column, field]) => sql`${field}::text, ${sql.ref(column)}[i]`));
  await sql`
    update run_summaries set summary = (summary::jsonb || jsonb_build_object('curve', coalesce((
      select jsonb_agg(jsonb_build_object(${fields}) order by i)
      from generate_subscripts(curve_time, 1) as i), '[]'::jsonb)))::json
    where curve_time is not null`.execute(db);
  for (const [column] of CURVE_FIELDS)
    await sql`alter table run_summaries drop column ${sql.ref(column)}`.execute(db);
  await createViews(db, MASKED_COLUMNS);
}
