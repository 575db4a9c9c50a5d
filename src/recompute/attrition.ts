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

/** The counts of a run (recorded on its `runs` row). */
export function countsFrom(rows: readonly CompositionRow[]): DerivationCounts {
  const sum = (keep: (row: CompositionRow) => boolean) =>
    rows.reduce((total, row) => total + (keep(row) ? row.patients : 0), 0);
  return {
    patientsInLedger: sum(() => true),
    registered: sum((r) => r.registered),
    analysed: sum((r) => r.analysable),
    landmark: sum((r) => r.landmark_eligible),
    flagged: sum((r) => r.flagged),
  };
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
  const total = rows.reduce((sum, r) => sum + r.patients, 0);
  const order = [STEPS.registered, STEPS.eligible, STEPS.treated, STEPS.analysable];
  const steps: AttritionStep[] = [{ step: STEPS.ledger, patients: total }];
  let remaining = total;
  for (const step of order) {
    const reasons: Record<string, number> = {};
    let excluded = 0;
    for (const row of rows) {
      if (row.excluded_at !== step) continue;
      reasons[row.reason] = (reasons[row.reason] ?? 0) + row.patients;
      excluded += row.patients;
    }
    remaining -= excluded;
    steps.push({ step, patients: remaining, excluded, reasons: sortedReasons(reasons) });
  }
  const landmarkReasons: Record<string, number> = {};
  let landmarkExcluded = 0;
  for (const row of rows) {
    if (row.landmark_reason === null) continue;
    landmarkReasons[row.landmark_reason] = (landmarkReasons[row.landmark_reason] ?? 0) + row.patients;
    landmarkExcluded += row.patients;
  }
  steps.push({
    step: landmarkStepName(landmarkMonths),
    patients: remaining - landmarkExcluded,
    excluded: landmarkExcluded,
    reasons: sortedReasons(landmarkReasons),
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
