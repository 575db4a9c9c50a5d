import { type Kysely, sql } from 'kysely';

/**
 * What the derivation reads of each event, stored as typed columns beside it and held, in the
 * order the derivation reads them, by one covering index:
 *
 * - generated columns (`generated always as (...) stored`, computed by PostgreSQL on insert from
 *   the row itself, so every writer gets them and none can set them): the clinical date
 *   (`fact_on`, the same `survflow_fact_on` as before), whether it is a line-1 immunotherapy
 *   cycle and its cycle number, whether it is a local line-1 radiotherapy course, and a
 *   registration's fields (null on every other type). The expressions are the derivation's
 *   former ones, character for character, so the derived rows are unchanged;
 * - `events_patient_derivation_idx` on (patient key in byte order, line-1 cycles first, cycle
 *   number, fact date) including the other columns the derivation reads (the type, `seq`, and
 *   the source and event id, which a registration's tie-break and the test for a retraction
 *   of the event read). It replaces `events_patient_key_idx`: a refresh reads a touched
 *   patient's events from it alone (an index-only scan of one or two pages instead of ~18
 *   scattered heap pages), and a full derivation reads the ledger in the order its window
 *   needs (no sort of every event);
 * - `events_fact_on_idx` is rebuilt on the stored column (PostgreSQL no longer evaluates the
 *   function for the index on every insert).
 *
 * The ADD COLUMN rewrites the ledger once, under an exclusive lock (the whole migration: ~11-20 s
 * per 1.75M events and ~110 s per 17.5M on the bench machine): plan the upgrade of a large
 * ledger for a quiet hour. Index-only scans need the rewritten pages vacuumed (autovacuum does).
 */
const DERIVATION_COLUMNS = sql`
  add column fact_on date
    generated always as (survflow_fact_on(type, payload, occurred_on)) stored,
  add column is_line1_cycle boolean
    generated always as (type = 'immunotherapy.cycle' and (payload->>'line')::int = 1) stored,
  add column cycle_number integer
    generated always as (case when type = 'immunotherapy.cycle' then (payload->>'cycleNumber')::int end) stored,
  add column is_local_line1_radiotherapy boolean
    generated always as (type = 'radiotherapy.course' and (payload->>'line')::int = 1
      and lower(payload->>'intent') = 'local') stored,
  add column registration_histology text
    generated always as (case when type = 'patient.registered' then payload->>'histology' end) stored,
  add column registration_disease_setting text
    generated always as (case when type = 'patient.registered' then payload->>'diseaseSetting' end) stored,
  add column registration_diagnosed_on text
    generated always as (case when type = 'patient.registered' then payload->>'diagnosedOn' end) stored`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table events ${DERIVATION_COLUMNS}`.execute(db);
  await sql`drop index events_patient_key_idx`.execute(db);
  await sql`
    create index events_patient_derivation_idx on events
      (patient_key collate "C", is_line1_cycle desc, cycle_number, fact_on)
      include (type, seq, source, event_id, is_local_line1_radiotherapy, registration_histology,
        registration_disease_setting, registration_diagnosed_on)`.execute(db);
  await sql`drop index events_fact_on_idx`.execute(db);
  await sql`create index events_fact_on_idx on events (fact_on)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index events_fact_on_idx`.execute(db);
  await sql`drop index events_patient_derivation_idx`.execute(db);
  await sql`alter table events drop column fact_on, drop column is_line1_cycle, drop column cycle_number,
    drop column is_local_line1_radiotherapy, drop column registration_histology,
    drop column registration_disease_setting, drop column registration_diagnosed_on`.execute(db);
  await sql`create index events_fact_on_idx on events (survflow_fact_on(type, payload, occurred_on))`.execute(
    db,
  );
  await sql`create index events_patient_key_idx on events (patient_key, occurred_on)`.execute(db);
}
