import { type Kysely, sql } from 'kysely';
import type { Database, PublishedSummariesView } from '../db/database.js';
import type { CurvePoint } from '../stats/types.js';
import { loadRunSummary } from '../summaries/load-run-summary.js';
import type { DataQualityCount, RunReportInput } from './report-html.js';

/**
 * A published run (the latest when `runId` is absent) as the plot and the report read it: the
 * SPEC section 8 document, each unsuppressed summary with its stored step curve (the curve_*
 * columns), and the data-quality flag counts of the run's patients. Suppression comes from the
 * `published_summaries` view, as for every other output, so a suppressed group has no curve.
 * Throws NotFoundError when there is no such published run.
 */
export async function loadRunReport(db: Kysely<Database>, runId?: string): Promise<RunReportInput> {
  const document = await loadRunSummary(db, runId);
  const [stored, flags] = await Promise.all([
    db
      .selectFrom('published_summaries')
      .select(['grouping', 'group_label', ...CURVE_COLUMNS])
      .where('run_id', '=', document.run.id)
      .where('suppressed', '=', false)
      .execute(),
    db
      .selectFrom(
        db
          .selectFrom('run_patients')
          .select(sql<string>`unnest(flags)`.as('flag'))
          .where('run_id', '=', document.run.id)
          .as('f'),
      )
      .select(['f.flag', sql<string>`count(*)`.as('patients')])
      .groupBy('f.flag')
      .orderBy('f.flag')
      .execute(),
  ]);
  const curves = new Map<string, CurvePoint[]>();
  for (const row of stored) {
    const curve = curvePoints(row);
    if (curve) curves.set(key(row.grouping, row.group_label), curve);
  }
  const dataQuality: DataQualityCount[] = flags.map((f) => ({ flag: f.flag, patients: Number(f.patients) }));
  return {
    ...document,
    summaries: document.summaries.map((s) => ({
      ...s,
      curve: s.suppressed ? null : (curves.get(key(s.grouping, s.group)) ?? null),
    })),
    dataQuality,
  };
}

/** A summary's step curve as stored: element i of each column is the curve's i-th point. */
const CURVE_COLUMNS = [
  'curve_time',
  'curve_n_risk',
  'curve_n_event',
  'curve_n_censor',
  'curve_surv',
  'curve_std_err',
  'curve_lower',
  'curve_upper',
] as const satisfies readonly (keyof PublishedSummariesView)[];
type CurveColumns = Pick<PublishedSummariesView, (typeof CURVE_COLUMNS)[number]>;

/** A stored step curve (the curve_* columns, element i the i-th point) as points; null: none stored. */
function curvePoints(row: CurveColumns): CurvePoint[] | null {
  const time = row.curve_time;
  if (time === null) return null;
  const at = (column: (number | null)[] | null, i: number) => column?.[i] ?? null;
  return time.map((t, i) => ({
    time: t as number,
    nRisk: at(row.curve_n_risk, i) as number,
    nEvent: at(row.curve_n_event, i) as number,
    nCensor: at(row.curve_n_censor, i) as number,
    surv: at(row.curve_surv, i) as number,
    stdErr: at(row.curve_std_err, i),
    lower: at(row.curve_lower, i),
    upper: at(row.curve_upper, i),
  }));
}

function key(grouping: string, group: string): string {
  return JSON.stringify([grouping, group]);
}
