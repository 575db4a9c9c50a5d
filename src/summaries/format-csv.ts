import { type RunSummaryDocument, survivalTimesOf } from './load-run-summary.js';

/**
 * CSV for spreadsheets: one row per grouping and group, flat columns (RFC 4180 quoting). Empty
 * cells are undefined figures (a median not reached, a missing CI bound) or suppressed ones:
 * the `suppressed` column says which. The grouping's tests repeat on each of its rows.
 */
export function formatSummaryCsv(document: RunSummaryDocument): string {
  const times = survivalTimesOf(document);
  const header = [
    'run_id',
    'cutoff',
    'grouping',
    'group',
    'suppressed',
    'n',
    'events',
    'censored',
    'median',
    'median_lower',
    'median_upper',
    ...times.flatMap((t) => [`surv_${t}`, `surv_${t}_std_err`, `surv_${t}_lower`, `surv_${t}_upper`]),
    'rmst',
    'rmst_std_err',
    'rmst_tau',
    'follow_up_median',
    'logrank_chisq',
    'logrank_df',
    'logrank_p',
    'cox_reference',
    'cox_group',
    'cox_hr',
    'cox_lower',
    'cox_upper',
    'cox_p',
  ];
  const lines = [header.join(',')];
  for (const s of document.summaries) {
    const test = document.tests.find((t) => t.grouping === s.grouping);
    const survival = times.flatMap((t) => {
      const at = s.survival?.find((p) => p.time === t);
      return [at?.surv, at?.stdErr, at?.lower, at?.upper];
    });
    const cells: unknown[] = [
      document.run.id,
      document.run.cutoff,
      s.grouping,
      s.group,
      s.suppressed,
      s.n,
      s.events,
      s.censored,
      s.median,
      s.medianLower,
      s.medianUpper,
      ...survival,
      s.rmst?.estimate,
      s.rmst?.stdErr,
      s.rmst?.tau,
      s.followUpMedian,
      test?.logRank?.chisq,
      test?.logRank?.df,
      test?.logRank?.p,
      test?.cox?.reference,
      test?.cox?.group,
      test?.cox?.hr,
      test?.cox?.lower,
      test?.cox?.upper,
      test?.cox?.p,
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  // Quote what needs it, and defuse spreadsheet formulas (a group label like `>12` is harmless,
  // but a cell starting with = + - @ would be evaluated by some spreadsheets).
  const safe = /^[=+\-@]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
