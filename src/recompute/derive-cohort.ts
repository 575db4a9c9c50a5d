import { sql, type Transaction } from 'kysely';
import type { Database, PatientFactsTable } from '../db/database.js';
import { type AnalysisParameters, cycleGroupLabels } from './parameters.js';

/**
 * Exclusion steps and reasons (the attrition table is built from these exact strings).
 * A patient is excluded at the FIRST step they fail, with the first reason that applies.
 */
export const STEPS = {
  ledger: 'patients with events',
  registered: 'registered',
  eligible: 'ESCC recurrent/metastatic',
  treated: 'line-1 immunotherapy by cutoff',
  analysable: 'analysable',
} as const;

export const REASONS = {
  noRegistration: 'no registration on or before cutoff',
  notEscc: 'histology not ESCC',
  notRecurrentMetastatic: 'disease setting not recurrent or metastatic',
  noLine1Immunotherapy: 'no line-1 immunotherapy cycle on or before cutoff',
  deathBeforeTimeZero: 'death before time zero',
  landmarkDied: 'died on or before the landmark',
  landmarkCensored: 'follow-up ended on or before the landmark',
} as const;

/** Data-quality flags (run_patients.flags); the README documents the analysis rule of each. */
export const FLAGS = {
  deathBeforeTimeZero: 'death_before_time_zero',
  deathBeforeDiagnosis: 'death_before_diagnosis',
  treatmentBeforeDiagnosis: 'treatment_before_diagnosis',
  treatmentAfterDeath: 'treatment_after_death',
  contactAfterDeath: 'contact_after_death',
  conflictingDeathDates: 'conflicting_death_dates',
  conflictingRegistrations: 'conflicting_registrations',
  cycleNumberGaps: 'cycle_number_gaps',
  repeatedCycleNumber: 'repeated_cycle_number',
} as const;

export type DerivationCounts = {
  patientsInLedger: number;
  registered: number;
  analysed: number;
  landmark: number;
  flagged: number;
};

/** The columns a derivation writes, in the order of its SELECT list. */
export const DERIVED_COLUMNS = [
  'valid_from',
  'patient_key',
  'registered',
  'histology',
  'disease_setting',
  'diagnosed_on',
  'time_zero',
  'death_on',
  'last_alive_on',
  'exit_on',
  'event',
  'time_months',
  'radiotherapy',
  'cycles',
  'cycle_group',
  'excluded_at',
  'exclusion_reason',
  'analysable',
  'landmark_eligible',
  'landmark_exclusion_reason',
  'landmark_time_months',
  'landmark_cycles',
  'landmark_cycle_group',
  'landmark_radiotherapy',
  'flags',
] as const satisfies readonly (keyof PatientFactsTable)[];

/**
 * Which patients a derivation covers: those in `touched_patients` (a temporary table of the
 * deriving session), one of `partitions` disjoint shares of the ledger's patients (by ranges of
 * the patient key; one share of one is every patient), which together cover every patient
 * exactly once, or
 * the patients whose keys are given (a share of the touched patients, derived on another
 * connection).
 */
export type DerivationScope =
  | 'touched patients'
  | { partition: number; partitions: number }
  | { patientKeys: readonly string[] };

/** Where a derivation writes its rows: the versions, or the full rebuild's staging table. */
export type DerivationTarget = 'patient_facts' | 'patient_facts_rebuild';

/**
 * Settings for a transaction that runs derivations of `scope`, scoped to it (`set local`):
 *
 * - work_mem: the retracted events' hash table, and a sort of the events read by patient when
 *   the planner chooses one, stay in memory for ledgers of a few million events;
 * - for a derivation of every patient (a key range of them, or all), random_page_cost 1.1: read
 *   in order from events_patient_derivation_idx, the events need no sort, and the index is a
 *   third of the table's size. At the default cost (4.0, which prices index pages as spinning
 *   disk reads) the planner prefers a sequential scan of the table and a sort of every event,
 *   ~15-35% slower on the bench's 100k-patient ledger, and at 1M patients a sort that no
 *   longer fits in memory. The planner still weighs the visibility map: on a ledger whose pages
 *   are not yet marked all-visible (a backfill not yet vacuumed) it keeps the scan and sort.
 */
export async function prepareDerivation(trx: Transaction<Database>, scope: DerivationScope): Promise<void> {
  await sql`set local work_mem = '256MB'`.execute(trx);
  if (isEveryPatient(scope)) await sql`set local random_page_cost = 1.1`.execute(trx);
}

/** Whether `scope` reads the whole ledger (a key range of its patients, or all of them). */
function isEveryPatient(scope: DerivationScope): boolean {
  return typeof scope === 'object' && 'partitions' in scope;
}

/**
 * Share `partition` of `partitions` of the patients, as a range of patient keys in byte order:
 * the ranges [start of share k, start of share k + 1) are disjoint and, the first open below
 * and the last open above, cover every key, so partitions computed on separate connections
 * derive every patient exactly once. Each reads only its range of
 * events_patient_derivation_idx (a condition on a hash of the key made every partition read
 * the whole index: ~0.5 s of a partition's ~1.8 s at 100k patients). Shares start at equal
 * steps of the first four hex digits: patient keys are hex HMACs, spread evenly over them (any
 * other keys would still be derived exactly once, in shares of uneven size).
 */
export function patientKeyRange(partition: number, partitions: number) {
  const start = (share: number) =>
    Math.floor((share * 0x1_0000) / partitions)
      .toString(16)
      .padStart(4, '0');
  return sql`${partition > 0 ? sql`and e.patient_key collate "C" >= ${start(partition)}` : sql``}
    ${partition < partitions - 1 ? sql`and e.patient_key collate "C" < ${start(partition + 1)}` : sql``}`;
}

/**
 * The INSERT ... SELECT that derives the per-patient analytic rows as of the cutoff and writes
 * them as new `patient_facts` versions valid from run `runNo`. The ledger is aggregated inside
 * PostgreSQL and only per-patient rows are written. Nothing here depends on arrival order: every
 * choice between competing events is made on clinical content (dates, then source and event id
 * as a deterministic tie-break), never on `seq` or `received_at`. With scope `touched patients`
 * only the patients listed in the temporary table `touched_patients` are read (by index), so an
 * incremental run costs what changed, not the whole history. (Exported for EXPLAIN in
 * performance work.)
 */
export function derivationStatement(
  runNo: string,
  parameters: AnalysisParameters,
  scope: DerivationScope,
  target: DerivationTarget = 'patient_facts',
) {
  const groups = cycleGroupLabels(parameters.cycleGroupBounds);
  const bounded = groups
    .filter((g) => g.upper !== null)
    .sort((a, b) => (a.upper as number) - (b.upper as number));
  const openLabel = groups[groups.length - 1]?.label ?? '>0';
  const landmarkDays = parameters.landmarkMonths * parameters.daysPerMonth;
  const cutoff = parameters.cutoff;

  // The smallest bound at or above the count names the group, else the open group: a CASE over
  // the bounds in ascending order (a subquery per patient cost ~5 µs each, twice per patient).
  const cycleGroupOf = (column: string) => sql`case
      ${sql.join(
        bounded.map((g) => sql`when ${sql.ref(column)} <= ${g.upper}::int then ${g.label}::text`),
        sql` `,
      )}
      else ${openLabel}::text end`;

  // The touched patients' events are looked up patient by patient, from the derivation index
  // alone (events_patient_derivation_idx, whose key is in byte order: hence the collation): a
  // LATERAL subquery behind OFFSET 0 (which keeps the planner from flattening it into a join)
  // can only be a nested loop, whereas a plain join or IN can be planned as a hash join over a
  // sequential scan of the whole ledger when the planner misjudges how many events a patient has.
  const byPatient = sql`cross join lateral (select * from events x where x.patient_key collate "C" = t.patient_key offset 0) e`;
  const ledger =
    scope === 'touched patients'
      ? sql`touched_patients t ${byPatient}`
      : typeof scope === 'object' && 'patientKeys' in scope
        ? sql`unnest(${scope.patientKeys}::text[]) as t (patient_key) ${byPatient}`
        : sql`events e`;
  const partition =
    typeof scope === 'object' && 'partitions' in scope
      ? patientKeyRange(scope.partition, scope.partitions)
      : sql``;
  // A derivation of every patient finds the retracted events once per statement, by their
  // (source, event id) key (one probe per retraction), and leaves them out by seq (as the
  // event's identity, never its order): NOT IN over a subquery is a hash table built once
  // (within work_mem: see prepareDerivation) and tested by each event, which keeps the index's
  // order (a NOT EXISTS would be planned as a hash anti join, whose output PostgreSQL treats as
  // unordered, or as a probe per event). A derivation of the touched patients probes the
  // retraction index once per event instead (~1-3 µs each; OFFSET 0 keeps the planner from
  // turning the NOT EXISTS into a hash anti join over every retraction in the ledger). On the
  // bench's 100k ledger with ~1% of its events retracted, a night's share of 487 patients took
  // 40-46 ms this way, 141-147 ms with the hash anti join the planner chose, and ~260 ms with
  // the targets' hash table (each finds every retraction's target first).
  const notRetracted = isEveryPatient(scope)
    ? sql`and e.seq not in (
          select target.seq from events r
          join events target on target.source = r.source and target.event_id = r.payload->>'targetEventId'
          where r.type = 'event.retracted')`
    : sql`and not exists (
          select 1 from events r
          where r.type = 'event.retracted'
            and r.source = e.source
            and r.payload->>'targetEventId' = e.event_id
          offset 0)`;

  return sql`
    insert into ${sql.table(target)} (${sql.join(DERIVED_COLUMNS.map((column) => sql.ref(column)))})
    with
    -- What the derivation reads of each event is stored beside it as generated columns (see
    -- migration 2026-11-27T13-00-00Z): the clinical date of each fact (survflow_fact_on: the
    -- date in the payload where the type has one, a death's diedOn, a course's startedOn,
    -- otherwise occurredOn), the line-1 cycle and its number, the local line-1 radiotherapy
    -- course, and a registration's fields (null on every other type); the index also holds the
    -- source and event id (a registration's tie-break keys, and what a retraction names). Byte
    -- order ("C") for the patient: keys are hex HMACs, so any order groups them the same, and
    -- events_patient_derivation_idx holds the events in exactly the order of the window below,
    -- so a full derivation can read them from it in order, with no sort of every event.
    --
    -- A retraction withdraws the target event of the same source whenever it was received and
    -- whatever its own date: it corrects the record, it is not a clinical fact (see
    -- notRetracted above for how each scope tests it).
    --
    -- The type is tested once per event, here, into booleans that the window and the
    -- aggregates below read (the type itself goes no further): every aggregate's FILTER is
    -- evaluated per event, and comparing the type's text there, ~14 times per event, cost a
    -- quarter of a full derivation (1M patients, both shares: 15.0 s against 11.2 s).
    live as (
      select e.patient_key collate "C" as patient_key, e.fact_on,
        e.type = 'death.recorded' as is_death,
        e.type = 'patient.registered' as is_registration,
        e.type in ('immunotherapy.cycle', 'radiotherapy.course') as is_treatment,
        case when e.type = 'patient.registered' then e.source end as registration_source,
        case when e.type = 'patient.registered' then e.event_id end as registration_event_id,
        e.registration_histology as histology,
        e.registration_disease_setting as disease_setting,
        e.registration_diagnosed_on as diagnosed_on,
        e.is_line1_cycle, e.cycle_number, e.is_local_line1_radiotherapy
      from ${ledger}
      where e.type <> 'event.retracted'
        ${partition}
        and e.fact_on <= ${cutoff}::date
        ${notRetracted}
    ),
    -- Per patient, in ONE order (by patient, then line-1 cycles first by cycle number and date:
    -- the index's order when the events are read from it in order, else one sort):
    -- the anchors as aggregates over the whole partition, and each row's predecessor, which
    -- tells a cycle number's first (earliest) row from its repeats. No joins (whose row
    -- estimates over CTEs are guesses and can turn into nested loops on large ledgers).
    anchored as (
      select l.*,
        min(l.fact_on) filter (where l.is_death) over w as death_on,
        min(l.fact_on) filter (where l.is_line1_cycle) over w as time_zero,
        lag(l.is_line1_cycle) over w as previous_is_line1_cycle,
        lag(l.cycle_number) over w as previous_cycle_number,
        lag(l.fact_on) over w as previous_fact_on
      from live l
      window w as (partition by l.patient_key order by l.is_line1_cycle desc, l.cycle_number, l.fact_on
        rows between unbounded preceding and unbounded following)
    ),
    -- Treatments dated after the death are not counted (flagged treatment_after_death). A
    -- counted cycle's repeats are dated on or after it, so when a repeat is counted the first is
    -- too: counting first rows counts distinct cycle numbers.
    counted as (
      select a.*,
        (a.death_on is null or a.fact_on <= a.death_on) as before_death,
        a.is_line1_cycle and (a.death_on is null or a.fact_on <= a.death_on)
          and not (a.previous_is_line1_cycle is true and a.previous_cycle_number = a.cycle_number)
          as first_of_cycle,
        a.is_line1_cycle and (a.death_on is null or a.fact_on <= a.death_on)
          and a.previous_is_line1_cycle is true and a.previous_cycle_number = a.cycle_number
          and a.previous_fact_on <> a.fact_on as cycle_repeated_on_another_day
      from anchored a
    ),
    -- Only plain aggregates (no DISTINCT or ORDER BY inside): PostgreSQL 15 sorts the input of
    -- each such aggregate per patient, nine small sorts per patient that cost more than the
    -- ledger's one sort.
    per_patient as (
      select patient_key,
        max(fact_on) filter (where not is_death) as last_alive_on,
        min(death_on) as death_on,
        max(fact_on) filter (where is_death) as last_death_on,
        min(time_zero) as time_zero,
        -- Several registrations: the latest (by date, then source and event id) is the record:
        -- the greatest of [date, source, event id, fields] (ISO dates order as text).
        bool_or(is_registration) as registered,
        max(array[to_char(fact_on, 'YYYYMMDD'), registration_source, registration_event_id,
            histology, disease_setting, diagnosed_on])
          filter (where is_registration) as registration,
        min(array[histology, disease_setting, diagnosed_on]) filter (where is_registration)
          <> max(array[histology, disease_setting, diagnosed_on]) filter (where is_registration)
          as conflicting_registrations,
        count(*) filter (where first_of_cycle) as cycles,
        count(*) filter (where first_of_cycle and fact_on - time_zero <= ${landmarkDays}::float8)
          as landmark_cycles,
        max(cycle_number) filter (where is_line1_cycle and before_death) as max_cycle_number,
        min(cycle_number) filter (where is_line1_cycle and before_death) as min_cycle_number,
        bool_or(cycle_repeated_on_another_day) as repeated,
        min(fact_on) filter (where is_local_line1_radiotherapy and before_death) as radiotherapy_started_on,
        coalesce(bool_or(not before_death)
          filter (where is_treatment), false) as treatment_after_death,
        coalesce(bool_or(not before_death)
          filter (where not is_treatment and not is_death), false)
          as contact_after_death
      from counted
      group by patient_key
    ),
    registrations as (
      select p.*,
        p.registration[4] as histology,
        p.registration[5] as disease_setting,
        p.registration[6]::date as diagnosed_on
      from per_patient p
    ),
    assembled as (
      select p.*,
        coalesce(p.death_on, p.last_alive_on) as exit_on,
        case
          when not p.registered then ${STEPS.registered}
          when upper(trim(p.histology)) <> 'ESCC' then ${STEPS.eligible}
          when lower(trim(p.disease_setting)) not in ('recurrent', 'metastatic') then ${STEPS.eligible}
          when p.time_zero is null then ${STEPS.treated}
          when p.death_on < p.time_zero then ${STEPS.analysable}
        end as excluded_at,
        case
          when not p.registered then ${REASONS.noRegistration}
          when upper(trim(p.histology)) <> 'ESCC' then ${REASONS.notEscc}
          when lower(trim(p.disease_setting)) not in ('recurrent', 'metastatic')
            then ${REASONS.notRecurrentMetastatic}
          when p.time_zero is null then ${REASONS.noLine1Immunotherapy}
          when p.death_on < p.time_zero then ${REASONS.deathBeforeTimeZero}
        end as exclusion_reason
      from registrations p
      -- Fences (here and in measured): each of these per-patient columns is computed once. The
      -- planner would otherwise substitute the expressions into every later reference (the
      -- exclusion CASE alone about ten times per patient).
      offset 0
    ),
    measured as (
      select a.*,
        a.excluded_at is null as analysable,
        case when a.excluded_at is null then (a.exit_on - a.time_zero)::float8 / ${parameters.daysPerMonth}::float8 end
          as time_months,
        case when a.excluded_at is null then (case when a.death_on is null then 0 else 1 end) end as event
      from assembled a
      offset 0
    )
    select
      ${runNo}::bigint, m.patient_key, m.registered, m.histology, m.disease_setting, m.diagnosed_on,
      m.time_zero, m.death_on, m.last_alive_on,
      case when m.analysable then m.exit_on end,
      m.event, m.time_months,
      case when m.analysable then m.radiotherapy_started_on is not null end,
      case when m.analysable then m.cycles end,
      case when m.analysable then ${cycleGroupOf('m.cycles')} end,
      m.excluded_at, m.exclusion_reason, m.analysable,
      -- Landmark: alive and in follow-up strictly after L months (time > L).
      m.analysable and m.time_months > ${parameters.landmarkMonths}::float8,
      case
        when not m.analysable or m.time_months > ${parameters.landmarkMonths}::float8 then null
        when m.event = 1 then ${REASONS.landmarkDied}
        else ${REASONS.landmarkCensored}
      end,
      case when m.analysable and m.time_months > ${parameters.landmarkMonths}::float8
        then m.time_months - ${parameters.landmarkMonths}::float8 end,
      case when m.analysable and m.time_months > ${parameters.landmarkMonths}::float8
        then m.landmark_cycles end,
      case when m.analysable and m.time_months > ${parameters.landmarkMonths}::float8
        then ${cycleGroupOf('m.landmark_cycles')} end,
      case when m.analysable and m.time_months > ${parameters.landmarkMonths}::float8
        then m.radiotherapy_started_on is not null
          and m.radiotherapy_started_on - m.time_zero <= ${landmarkDays}::float8 end,
      array_remove(array[
        case when m.death_on < m.time_zero then ${FLAGS.deathBeforeTimeZero} end,
        case when m.death_on < m.diagnosed_on then ${FLAGS.deathBeforeDiagnosis} end,
        case when m.time_zero < m.diagnosed_on then ${FLAGS.treatmentBeforeDiagnosis} end,
        case when m.treatment_after_death then ${FLAGS.treatmentAfterDeath} end,
        case when m.contact_after_death then ${FLAGS.contactAfterDeath} end,
        case when m.last_death_on > m.death_on then ${FLAGS.conflictingDeathDates} end,
        case when m.conflicting_registrations then ${FLAGS.conflictingRegistrations} end,
        case when m.max_cycle_number is not null
          and (m.min_cycle_number <> 1 or m.max_cycle_number <> m.cycles) then ${FLAGS.cycleNumberGaps} end,
        case when m.repeated then ${FLAGS.repeatedCycleNumber} end
      ]::text[], null)
    from measured m
  `;
}
