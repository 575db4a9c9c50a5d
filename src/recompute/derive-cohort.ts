import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
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

/**
 * Derives the per-patient analytic data set of a run from the event ledger, as of the run's
 * cutoff, in ONE set-based INSERT ... SELECT: the ledger is aggregated inside PostgreSQL and
 * only per-patient rows are written (to `run_patients`, keyed by run id). Nothing here depends
 * on arrival order: every choice between competing events is made on clinical content
 * (dates, then source and event id as a deterministic tie-break), never on `seq` or
 * `received_at`.
 */
export async function deriveCohort(
  db: Kysely<Database>,
  runId: string,
  parameters: AnalysisParameters,
): Promise<DerivationCounts> {
  const groups = cycleGroupLabels(parameters.cycleGroupBounds);
  const bounded = groups.filter((g) => g.upper !== null);
  const uppers = bounded.map((g) => g.upper as number);
  const labels = bounded.map((g) => g.label);
  const openLabel = groups[groups.length - 1]?.label ?? '>0';
  const landmarkDays = parameters.landmarkMonths * parameters.daysPerMonth;
  const cutoff = parameters.cutoff;

  const cycleGroupOf = (column: string) => sql`coalesce(
      (select b.label from unnest(${uppers}::int[], ${labels}::text[]) as b(upper, label)
        where ${sql.ref(column)} <= b.upper order by b.upper limit 1),
      ${openLabel}::text)`;

  await sql`
    insert into run_patients (
      run_id, patient_key, registered, histology, disease_setting, diagnosed_on, time_zero,
      death_on, last_alive_on, exit_on, event, time_months, radiotherapy, cycles, cycle_group,
      excluded_at, exclusion_reason, analysable, landmark_eligible, landmark_exclusion_reason,
      landmark_time_months, landmark_cycles, landmark_cycle_group, landmark_radiotherapy, flags)
    with
    -- A retraction withdraws the target event of the same source whenever it was received and
    -- whatever its own date: it corrects the record, it is not a clinical fact.
    retracted as (
      select distinct r.source, r.payload->>'targetEventId' as event_id
      from events r
      where r.type = 'event.retracted'
    ),
    -- The clinical date of each fact: the date in the payload where the type has one (a death's
    -- diedOn, a course's startedOn), otherwise occurredOn.
    fact as (
      select e.patient_key, e.source, e.event_id, e.type, e.payload,
        case e.type
          when 'death.recorded' then (e.payload->>'diedOn')::date
          when 'radiotherapy.course' then (e.payload->>'startedOn')::date
          else e.occurred_on
        end as fact_on
      from events e
      where e.type <> 'event.retracted'
        and not exists (
          select 1 from retracted r where r.source = e.source and r.event_id = e.event_id)
    ),
    live as (
      select * from fact where fact_on <= ${cutoff}::date
    ),
    patient as (
      select patient_key,
        max(fact_on) filter (where type <> 'death.recorded') as last_alive_on
      from live
      group by patient_key
    ),
    -- Several registrations: the latest (by date, then source and event id) is the record.
    registration as (
      select distinct on (patient_key) patient_key,
        payload->>'histology' as histology,
        payload->>'diseaseSetting' as disease_setting,
        (payload->>'diagnosedOn')::date as diagnosed_on
      from live
      where type = 'patient.registered'
      order by patient_key, fact_on desc, source desc, event_id desc
    ),
    registration_check as (
      select patient_key,
        count(distinct (payload->>'histology', payload->>'diseaseSetting', payload->>'diagnosedOn')) > 1
          as conflicting
      from live
      where type = 'patient.registered'
      group by patient_key
    ),
    -- Several death dates: the earliest is used and the patient is flagged.
    death as (
      select patient_key, min(fact_on) as death_on, count(distinct fact_on) as dates
      from live
      where type = 'death.recorded'
      group by patient_key
    ),
    line1_cycle as (
      select l.patient_key, (l.payload->>'cycleNumber')::int as cycle_number, l.fact_on
      from live l
      where l.type = 'immunotherapy.cycle' and (l.payload->>'line')::int = 1
    ),
    time_zero as (
      select patient_key, min(fact_on) as time_zero from line1_cycle group by patient_key
    ),
    -- Cycles dated after the death are not counted (flagged treatment_after_death).
    cycles as (
      select c.patient_key,
        count(distinct c.cycle_number) as cycles,
        count(distinct c.cycle_number) filter (where c.fact_on - t.time_zero <= ${landmarkDays}::float8)
          as landmark_cycles,
        max(c.cycle_number) as max_cycle_number,
        min(c.cycle_number) as min_cycle_number,
        count(distinct (c.cycle_number, c.fact_on)) > count(distinct c.cycle_number) as repeated
      from line1_cycle c
      join time_zero t using (patient_key)
      left join death d using (patient_key)
      where d.death_on is null or c.fact_on <= d.death_on
      group by c.patient_key
    ),
    radiotherapy as (
      select l.patient_key, min(l.fact_on) as first_started_on
      from live l
      left join death d using (patient_key)
      where l.type = 'radiotherapy.course'
        and (l.payload->>'line')::int = 1
        and lower(l.payload->>'intent') = 'local'
        and (d.death_on is null or l.fact_on <= d.death_on)
      group by l.patient_key
    ),
    after_death as (
      select l.patient_key,
        bool_or(l.type in ('immunotherapy.cycle', 'radiotherapy.course')) as treatment,
        bool_or(l.type not in ('immunotherapy.cycle', 'radiotherapy.course')) as contact
      from live l
      join death d using (patient_key)
      where l.fact_on > d.death_on and l.type <> 'death.recorded'
      group by l.patient_key
    ),
    assembled as (
      select p.patient_key,
        reg.patient_key is not null as registered,
        reg.histology, reg.disease_setting, reg.diagnosed_on,
        t.time_zero, d.death_on, d.dates as death_dates, p.last_alive_on,
        coalesce(d.death_on, p.last_alive_on) as exit_on,
        r.first_started_on as radiotherapy_started_on,
        coalesce(c.cycles, 0) as cycles, coalesce(c.landmark_cycles, 0) as landmark_cycles,
        c.max_cycle_number, c.min_cycle_number, coalesce(c.repeated, false) as repeated,
        coalesce(rc.conflicting, false) as conflicting_registrations,
        coalesce(ad.treatment, false) as treatment_after_death,
        coalesce(ad.contact, false) as contact_after_death,
        case
          when reg.patient_key is null then ${STEPS.registered}
          when upper(trim(reg.histology)) <> 'ESCC' then ${STEPS.eligible}
          when lower(trim(reg.disease_setting)) not in ('recurrent', 'metastatic') then ${STEPS.eligible}
          when t.time_zero is null then ${STEPS.treated}
          when d.death_on < t.time_zero then ${STEPS.analysable}
        end as excluded_at,
        case
          when reg.patient_key is null then ${REASONS.noRegistration}
          when upper(trim(reg.histology)) <> 'ESCC' then ${REASONS.notEscc}
          when lower(trim(reg.disease_setting)) not in ('recurrent', 'metastatic')
            then ${REASONS.notRecurrentMetastatic}
          when t.time_zero is null then ${REASONS.noLine1Immunotherapy}
          when d.death_on < t.time_zero then ${REASONS.deathBeforeTimeZero}
        end as exclusion_reason
      from patient p
      left join registration reg using (patient_key)
      left join registration_check rc using (patient_key)
      left join time_zero t using (patient_key)
      left join death d using (patient_key)
      left join cycles c using (patient_key)
      left join radiotherapy r using (patient_key)
      left join after_death ad using (patient_key)
    ),
    measured as (
      select a.*,
        a.excluded_at is null as analysable,
        case when a.excluded_at is null then (a.exit_on - a.time_zero)::float8 / ${parameters.daysPerMonth}::float8 end
          as time_months,
        case when a.excluded_at is null then (case when a.death_on is null then 0 else 1 end) end as event
      from assembled a
    )
    select
      ${runId}, m.patient_key, m.registered, m.histology, m.disease_setting, m.diagnosed_on,
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
        case when m.death_dates > 1 then ${FLAGS.conflictingDeathDates} end,
        case when m.conflicting_registrations then ${FLAGS.conflictingRegistrations} end,
        case when m.max_cycle_number is not null
          and (m.min_cycle_number <> 1 or m.max_cycle_number <> m.cycles) then ${FLAGS.cycleNumberGaps} end,
        case when m.repeated then ${FLAGS.repeatedCycleNumber} end
      ]::text[], null)
    from measured m
  `.execute(db);

  const counts = await db
    .selectFrom('run_patients')
    .where('run_id', '=', runId)
    .select((eb) => [
      eb.fn.countAll<string>().as('ledger'),
      sql<string>`count(*) filter (where registered)`.as('registered'),
      sql<string>`count(*) filter (where analysable)`.as('analysed'),
      sql<string>`count(*) filter (where landmark_eligible)`.as('landmark'),
      sql<string>`count(*) filter (where cardinality(flags) > 0)`.as('flagged'),
    ])
    .executeTakeFirstOrThrow();
  return {
    patientsInLedger: Number(counts.ledger),
    registered: Number(counts.registered),
    analysed: Number(counts.analysed),
    landmark: Number(counts.landmark),
    flagged: Number(counts.flagged),
  };
}
