import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import { REASONS, STEPS } from './derive-cohort.js';

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

/**
 * The CONSORT-style attrition table of a run, counted from its run_patients rows (so it always
 * agrees with the analytic data set): every patient with a ledger event on or before the cutoff,
 * then each step with the patients it keeps and the ones it excludes by reason. The last step is
 * the landmark sub-cohort, drawn from the analysable patients.
 */
export async function buildAttrition(
  db: Kysely<Database>,
  runId: string,
  landmarkMonths: number,
): Promise<AttritionStep[]> {
  const rows = await db
    .selectFrom('run_patients')
    .where('run_id', '=', runId)
    .select([
      'excluded_at',
      sql<
        string | null
      >`case when analysable and not landmark_eligible then landmark_exclusion_reason end`.as(
        'landmark_reason',
      ),
      sql<string | null>`coalesce(exclusion_reason, '')`.as('reason'),
      sql<string>`count(*)`.as('patients'),
    ])
    .groupBy([sql`1`, sql`2`, sql`3`])
    .execute();

  const total = rows.reduce((sum, r) => sum + Number(r.patients), 0);
  const order = [STEPS.registered, STEPS.eligible, STEPS.treated, STEPS.analysable];
  const steps: AttritionStep[] = [{ step: STEPS.ledger, patients: total }];
  let remaining = total;
  for (const step of order) {
    const reasons: Record<string, number> = {};
    let excluded = 0;
    for (const row of rows) {
      if (row.excluded_at !== step) continue;
      const reason = row.reason ?? '';
      reasons[reason] = (reasons[reason] ?? 0) + Number(row.patients);
      excluded += Number(row.patients);
    }
    remaining -= excluded;
    steps.push({ step, patients: remaining, excluded, reasons: sortedReasons(reasons) });
  }
  const landmarkReasons: Record<string, number> = {};
  let landmarkExcluded = 0;
  for (const row of rows) {
    if (row.landmark_reason === null) continue;
    landmarkReasons[row.landmark_reason] = (landmarkReasons[row.landmark_reason] ?? 0) + Number(row.patients);
    landmarkExcluded += Number(row.patients);
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
