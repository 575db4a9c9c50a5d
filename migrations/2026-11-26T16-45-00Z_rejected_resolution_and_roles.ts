import { type Kysely, sql } from 'kysely';

/**
 * - `rejected_events.resolved_by`: the retry submission whose account showed the input accepted
 *   or duplicate (`survflow rejected retry`), next to the existing `resolved_at`.
 * - Least privilege (SPEC 6): roles `survflow_worker` and `survflow_api`, NOLOGIN by default
 *   (an operator grants LOGIN and a password, or maps them in pg_hba / IAM). Roles are
 *   cluster-wide, so they are created idempotently; privileges are granted in this database.
 *   Neither role may DELETE or UPDATE ledger rows (`events`); migrations run as the owner.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table rejected_events add column resolved_by text`.execute(db);

  for (const role of ['survflow_worker', 'survflow_api']) {
    await sql`
      do $$ begin
        if not exists (select 1 from pg_roles where rolname = ${sql.lit(role)}) then
          create role ${sql.id(role)} nologin;
        end if;
      end $$`.execute(db);
    await sql`grant connect on database ${sql.id(await currentDatabase(db))} to ${sql.id(role)}`.execute(db);
    await sql`grant usage on schema public to ${sql.id(role)}`.execute(db);
    // Everything may be read; the ledger only appended to.
    await sql`grant select on all tables in schema public to ${sql.id(role)}`.execute(db);
    await sql`grant insert on ingest_submissions to ${sql.id(role)}`.execute(db);
    await sql`grant update (batch_count, event_count, sealed_at) on ingest_submissions to ${sql.id(role)}`.execute(
      db,
    );
    await sql`grant usage, select on all sequences in schema public to ${sql.id(role)}`.execute(db);
  }
  // Only the worker writes the ledger and its accounts (append only: no UPDATE, no DELETE).
  await sql`grant insert on events, rejected_events, ingest_batches to survflow_worker`.execute(db);
  // The API records its idempotent requests.
  await sql`grant insert on api_submissions to survflow_api`.execute(db);
  // The worker also resolves rejected inputs (retry) and writes recompute runs.
  await sql`grant update (resolved_at, resolved_by) on rejected_events to survflow_worker`.execute(db);
  for (const table of ['runs', 'run_patients', 'run_attrition', 'run_summaries', 'run_tests']) {
    await sql`grant insert, update, delete on ${sql.id(table)} to survflow_worker`.execute(db);
  }
}

async function currentDatabase(db: Kysely<any>): Promise<string> {
  const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(db);
  return rows[0]?.name ?? 'postgres';
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const role of ['survflow_worker', 'survflow_api']) {
    await sql`revoke all on all tables in schema public from ${sql.id(role)}`.execute(db);
    await sql`revoke all on all sequences in schema public from ${sql.id(role)}`.execute(db);
    await sql`revoke all on schema public from ${sql.id(role)}`.execute(db);
    await sql`revoke connect on database ${sql.id(await currentDatabase(db))} from ${sql.id(role)}`.execute(
      db,
    );
  }
  await sql`alter table rejected_events drop column resolved_by`.execute(db);
}
