import { type Kysely, sql } from 'kysely';

/**
 * Incremental recompute: per-patient derived rows kept as versions, refreshed only for the
 * patients a run touches.
 *
 * - `survflow_fact_on(type, payload, occurred_on)`: the clinical date of a ledger fact (a
 *   death's `diedOn`, a course's `startedOn`, otherwise `occurredOn`), the one definition used by
 *   the derivation and by `events_fact_on_idx`, which finds the patients with a fact between two
 *   cutoffs. The contract admits ISO dates (YYYY-MM-DD) only, so the date is built with
 *   `make_date` from the digits: truly IMMUTABLE (a `::date` cast is only STABLE, as it reads
 *   DateStyle), which lets PostgreSQL both index it and inline it into the derivation (an
 *   IMMUTABLE function around a STABLE cast is not inlined and costs ~8x per row).
 * - A BEFORE INSERT statement trigger on `events` takes the ledger-write advisory lock in shared
 *   mode, before any row of the statement gets its `seq`. The recompute takes it in exclusive
 *   mode for an instant to read `max(seq)`: no write is in flight then, so every event with a
 *   lower `seq` is committed and the high-water mark never skips a late-committing batch.
 * - `patient_facts`: one row per patient and version (the columns of the former `run_patients`);
 *   `valid_from` / `valid_to` are run numbers (`runs.run_no`). A run re-derives only the touched
 *   patients: it closes their current versions and inserts new ones.
 * - `patient_facts_state`: the high-water mark, cutoff and derivation parameters the current
 *   versions were derived with.
 * - `patient_fact_combinations`: the current versions counted by distinct combination of the
 *   columns a run's outputs use (counts, attrition, statistics), kept up to date by the same
 *   transaction that writes versions, so a run reads ~20,000 rows instead of scanning 1M.
 * - `run_patients` becomes a view: the rows of runs made before this migration
 *   (`run_patients_legacy`) plus, for every run whose facts were derived, the versions valid in
 *   it. Readers keep querying `run_patients where run_id = ...`.
 */
// The same key as LEDGER_WRITE_LOCK_KEY in src/recompute/ledger-high-water.ts (a migration never imports app code).
const LEDGER_WRITE_LOCK_KEY = 0x5f_4c_45_44; // "_LED"

const FACT_COLUMNS = `patient_key, registered, histology, disease_setting, diagnosed_on, time_zero,
  death_on, last_alive_on, exit_on, event, time_months, radiotherapy, cycles, cycle_group,
  excluded_at, exclusion_reason, analysable, landmark_eligible, landmark_exclusion_reason,
  landmark_time_months, landmark_cycles, landmark_cycle_group, landmark_radiotherapy, flags`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function survflow_fact_on(type text, payload jsonb, occurred_on date) returns date
    language sql immutable parallel safe as $$
      select case type
        when 'death.recorded' then make_date(substr(payload->>'diedOn', 1, 4)::int,
          substr(payload->>'diedOn', 6, 2)::int, substr(payload->>'diedOn', 9, 2)::int)
        when 'radiotherapy.course' then make_date(substr(payload->>'startedOn', 1, 4)::int,
          substr(payload->>'startedOn', 6, 2)::int, substr(payload->>'startedOn', 9, 2)::int)
        else occurred_on
      end
    $$`.execute(db);
  await sql`create index events_fact_on_idx on events (survflow_fact_on(type, payload, occurred_on))`.execute(
    db,
  );

  await sql`
    create function survflow_ledger_write_lock() returns trigger language plpgsql as $$
    begin
      perform pg_advisory_xact_lock_shared(${sql.lit(LEDGER_WRITE_LOCK_KEY)}::bigint);
      return null;
    end $$`.execute(db);
  await sql`
    create trigger events_ledger_write_lock before insert on events
    for each statement execute function survflow_ledger_write_lock()`.execute(db);

  await sql`alter table runs add column run_no bigint generated always as identity`.execute(db);
  await sql`alter table runs add constraint runs_run_no_key unique (run_no)`.execute(db);
  // Set in the transaction that derives the run's facts: only such runs have versions.
  await sql`alter table runs add column facts_derived boolean not null default false`.execute(db);
  await sql`alter table runs add column facts_mode text check (facts_mode in ('full', 'incremental'))`.execute(
    db,
  );
  await sql`alter table runs add column patients_rederived integer`.execute(db);

  await sql`alter table run_patients rename to run_patients_legacy`.execute(db);
  await sql`alter table run_patients_legacy rename constraint run_patients_pkey to run_patients_legacy_pkey`.execute(
    db,
  );

  await sql`
    create table patient_facts (
      patient_key text not null,
      registered boolean not null,
      histology text,
      disease_setting text,
      diagnosed_on date,
      time_zero date,
      death_on date,
      last_alive_on date,
      exit_on date,
      event smallint,
      time_months double precision,
      radiotherapy boolean,
      cycles integer,
      cycle_group text,
      excluded_at text,
      exclusion_reason text,
      analysable boolean not null,
      landmark_eligible boolean not null,
      landmark_exclusion_reason text,
      landmark_time_months double precision,
      landmark_cycles integer,
      landmark_cycle_group text,
      landmark_radiotherapy boolean,
      flags text[] not null default '{}'::text[],
      valid_from bigint not null,
      valid_to bigint,
      primary key (patient_key, valid_from),
      check (valid_to is null or valid_to > valid_from)
    )`.execute(db);
  // One current version per patient; also what a run closes by patient.
  await sql`create unique index patient_facts_current_idx on patient_facts (patient_key) where valid_to is null`.execute(
    db,
  );

  await sql`
    create table patient_facts_state (
      id boolean primary key default true check (id),
      derived_through_seq bigint not null,
      cutoff date not null,
      derivation_key text not null,
      run_no bigint not null,
      updated_at timestamptz not null default now()
    )`.execute(db);

  await sql`
    create table patient_fact_combinations (
      excluded_at text,
      reason text not null,
      landmark_reason text,
      registered boolean not null,
      analysable boolean not null,
      landmark_eligible boolean not null,
      flagged boolean not null,
      time_months double precision,
      event smallint,
      radiotherapy boolean,
      cycle_group text,
      landmark_time_months double precision,
      landmark_cycle_group text,
      landmark_radiotherapy boolean,
      -- No CHECK (patients >= 0): PostgreSQL checks the proposed row of an INSERT ... ON CONFLICT
      -- before finding the conflict, and a delta of -1 is a valid proposal. The refresh verifies.
      patients integer not null,
      constraint patient_fact_combinations_key unique nulls not distinct (excluded_at, reason,
        landmark_reason, registered, analysable, landmark_eligible, flagged, time_months, event,
        radiotherapy, cycle_group, landmark_time_months, landmark_cycle_group, landmark_radiotherapy)
    )`.execute(db);

  await sql
    .raw(`
    create view run_patients as
      select run_id, ${FACT_COLUMNS} from run_patients_legacy
      union all
      select r.id as run_id, ${FACT_COLUMNS.replace(/(\w+)/g, 'f.$1')}
      from runs r
      join patient_facts f
        on f.valid_from <= r.run_no and (f.valid_to is null or f.valid_to > r.run_no)
      where r.facts_derived`)
    .execute(db);

  for (const role of ['survflow_worker', 'survflow_api']) {
    const exists = await sql<{ found: boolean }>`
      select exists (select 1 from pg_roles where rolname = ${role}) as found`.execute(db);
    if (!exists.rows[0]?.found) continue;
    await sql`grant select on patient_facts, patient_facts_state, patient_fact_combinations, run_patients to ${sql.id(role)}`.execute(
      db,
    );
  }
  const worker = await sql<{ found: boolean }>`
    select exists (select 1 from pg_roles where rolname = 'survflow_worker') as found`.execute(db);
  if (worker.rows[0]?.found) {
    await sql`grant insert, update, delete on patient_facts, patient_facts_state, patient_fact_combinations to survflow_worker`.execute(
      db,
    );
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop view run_patients`.execute(db);
  await sql`drop table patient_fact_combinations`.execute(db);
  await sql`drop table patient_facts_state`.execute(db);
  await sql`drop table patient_facts`.execute(db);
  await sql`alter table run_patients_legacy rename constraint run_patients_legacy_pkey to run_patients_pkey`.execute(
    db,
  );
  await sql`alter table run_patients_legacy rename to run_patients`.execute(db);
  await sql`alter table runs drop column patients_rederived`.execute(db);
  await sql`alter table runs drop column facts_mode`.execute(db);
  await sql`alter table runs drop column facts_derived`.execute(db);
  await sql`alter table runs drop column run_no`.execute(db);
  await sql`drop trigger events_ledger_write_lock on events`.execute(db);
  await sql`drop function survflow_ledger_write_lock()`.execute(db);
  await sql`drop index events_fact_on_idx`.execute(db);
  await sql`drop function survflow_fact_on(text, jsonb, date)`.execute(db);
}
