import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { type DerivationCounts, REASONS, STEPS } from './derive-cohort.js';
import { loadPatientCombinations, type PatientCombination } from './patient-combinations.js';

export type AttritionStep = {
  step: string;
  patients: number;
  excluded?: number;
  reasons?: Record<string, number>;
};

/** The step name of the landmark sub-cohort, e.g. `alive and in follow-up at 9 months`. */
export function landmarkStepName(landmarkMonths: number): string {
  return `alive and in follow-up at ${landmarkMonths} months`;
}

/** The columns of a patient combination the counts and the attrition table use. */
export type CompositionRow = Pick<
  PatientCombination,
  | 'excluded_at'
  | 'reason'
  | 'landmark_reason'
  | 'registered'
  | 'analysable'
  | 'landmark_eligible'
  | 'flagged'
  | 'patients'
>;

/**
 * The counts of a run (recorded on its `runs` row). One plain loop over the combinations: it runs
 * once per run, before V8 has optimized it, over ~17,000 rows.
 */
export function countsFrom(rows: readonly CompositionRow[]): DerivationCounts {
  const counts: DerivationCounts = {
    patientsInLedger: 0,
    registered: 0,
    analysed: 0,
    landmark: 0,
    flagged: 0,
  };
  for (const row of rows) {
    const n = row.patients;
    counts.patientsInLedger += n;
    if (row.registered) counts.registered += n;
    if (row.analysable) counts.analysed += n;
    if (row.landmark_eligible) counts.landmark += n;
    if (row.flagged) counts.flagged += n;
  }
  return counts;
}

export async function countDerived(db: Kysely<Database>, runId: string): Promise<DerivationCounts> {
  return countsFrom(await loadPatientCombinations(db, runId));
}

export async function buildAttrition(
  db: Kysely<Database>,
  runId: string,
  landmarkMonths: number,
): Promise<AttritionStep[]> {
  return attritionFrom(await loadPatientCombinations(db, runId), landmarkMonths);
}

/**
 * The CONSORT-style attrition table of a run: every patient with a ledger event on or before the
 * cutoff, then each step with the patients it keeps and the ones it excludes by reason. The last
 * step is the landmark sub-cohort, drawn from the analysable patients.
 */
export function attritionFrom(rows: readonly CompositionRow[], landmarkMonths: number): AttritionStep[] {
  const order = [STEPS.registered, STEPS.eligible, STEPS.treated, STEPS.analysable];
  // Exclusions per step (in `order`) and the landmark's, by reason: one pass over the rows.
  const excludedBy = order.map(() => ({ excluded: 0, reasons: {} as Record<string, number> }));
  const landmark = { excluded: 0, reasons: {} as Record<string, number> };
  const stepIndex = new Map<string, number>(order.map((step, i) => [step, i]));
  let total = 0;
  for (const row of rows) {
    total += row.patients;
    const at = row.excluded_at === null ? undefined : stepIndex.get(row.excluded_at);
    if (at !== undefined) {
      const step = excludedBy[at] as (typeof excludedBy)[number];
      step.reasons[row.reason] = (step.reasons[row.reason] ?? 0) + row.patients;
      step.excluded += row.patients;
    }
    if (row.landmark_reason !== null) {
      landmark.reasons[row.landmark_reason] = (landmark.reasons[row.landmark_reason] ?? 0) + row.patients;
      landmark.excluded += row.patients;
    }
  }
  const steps: AttritionStep[] = [{ step: STEPS.ledger, patients: total }];
  let remaining = total;
  order.forEach((step, i) => {
    const { excluded, reasons } = excludedBy[i] as (typeof excludedBy)[number];
    remaining -= excluded;
    steps.push({ step, patients: remaining, excluded, reasons: sortedReasons(reasons) });
  });
  steps.push({
    step: landmarkStepName(landmarkMonths),
    patients: remaining - landmark.excluded,
    excluded: landmark.excluded,
    reasons: sortedReasons(landmark.reasons),
  });
  return steps;
}

function sortedReasons(reasons: Record<string, number>): Record<string, number> {
  const known: string[] = Object.values(REASONS);
  return Object.fromEntries(
    Object.entries(reasons).sort(([a], [b]) => known.indexOf(a) - known.indexOf(b) || a.localeCompare(b)),
  );
}

export async function storeAttrition(
  db: Kysely<Database>,
  runId: string,
  steps: AttritionStep[],
): Promise<void> {
  await db
    .insertInto('run_attrition')
    .values(
      steps.map((s, position) => ({
        run_id: runId,
        position,
        step: s.step,
        patients: s.patients,
        excluded: s.excluded ?? null,
        reasons: s.reasons === undefined ? null : JSON.stringify(s.reasons),
      })),
    )
    .execute();
}
