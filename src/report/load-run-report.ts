import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import { CURVE_COLUMN_NAMES, curveFromColumns } from '../db/summary-curve-columns.js';
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
      .select(['grouping', 'group_label', ...CURVE_COLUMN_NAMES])
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
    const curve = curveFromColumns(row);
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

function key(grouping: string, group: string): string {
  return JSON.stringify([grouping, group]);
}
