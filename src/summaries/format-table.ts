import { type RunSummaryDocument, suppressionKOf, survivalTimesOf } from './load-run-summary.js';

const NOT_REACHED = 'NR';

/** A month figure with one decimal; `NR` when not reached / not defined. */
export function formatMonths(value: number | null | undefined): string {
  return value === null || value === undefined ? NOT_REACHED : value.toFixed(1);
}

/** `31.5 (20.1-NR)`: the median with its 95% CI, NR for what is not reached. */
export function formatMedianCi(median: number | null, lower: number | null, upper: number | null): string {
  return `${formatMonths(median)} (${formatMonths(lower)}-${formatMonths(upper)})`;
}

function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return '-';
  return p < 0.001 ? '<0.001' : p.toFixed(3);
}

function alignedTable(header: string[], rows: string[][], rightAligned: Set<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/**
 * The table for people: one line per grouping and group with n, events, the median OS with its
 * confidence interval and S(t) at the run's survival times, then the tests, then notes (what NR
 * means, which rows were suppressed and why).
 */
export function formatSummaryTable(document: RunSummaryDocument): string {
  const times = survivalTimesOf(document);
  const k = suppressionKOf(document);
  const confLevel = Number(document.run.parameters.confLevel ?? 0.95);
  const landmark = document.run.parameters.landmarkMonths;
  const out: string[] = [];
  out.push(
    `Run ${document.run.id}  cutoff ${document.run.cutoff}  published ${document.run.publishedAt}`,
    `Overall survival in months (Kaplan-Meier); landmark groupings count patients alive and in follow-up at ${landmark} months, time from the landmark.`,
    '',
  );
  const header = [
    'grouping',
    'group',
    'n',
    'events',
    `median (${Math.round(confLevel * 100)}% CI)`,
    ...times.map((t) => `S(${t})`),
  ];
  let suppressedRows = 0;
  const rows = document.summaries.map((s) => {
    if (s.suppressed) {
      suppressedRows++;
      return [s.grouping, s.group, `<${k}*`, '*', 'suppressed*', ...times.map(() => '*')];
    }
    return [
      s.grouping,
      s.group,
      String(s.n),
      String(s.events),
      formatMedianCi(s.median, s.medianLower, s.medianUpper),
      ...times.map((t) => {
        const at = s.survival?.find((p) => p.time === t);
        return at && at.inRange !== false ? at.surv.toFixed(3) : '-';
      }),
    ];
  });
  out.push(...alignedTable(header, rows, new Set([2, 3, ...times.map((_, i) => 5 + i)])));

  if (document.tests.length > 0) {
    out.push('');
    const testRows = document.tests.map((t) => [
      t.grouping,
      t.logRank ? t.logRank.chisq.toFixed(2) : '-',
      t.logRank ? String(t.logRank.df) : '-',
      formatP(t.logRank?.p),
      t.cox
        ? `${t.cox.group} vs ${t.cox.reference}: ${t.cox.hr === null ? '-' : t.cox.hr.toFixed(2)} (${
            t.cox.lower === null ? '-' : t.cox.lower.toFixed(2)
          }-${t.cox.upper === null ? '-' : t.cox.upper.toFixed(2)}), p ${formatP(t.cox.p)}`
        : '',
    ]);
    out.push(
      ...alignedTable(
        ['grouping', 'log-rank chisq', 'df', 'p', 'Cox HR (95% CI)'],
        testRows,
        new Set([1, 2, 3]),
      ),
    );
  }
  out.push('', 'NR: not reached. S(t) "-": beyond the last follow-up of the group.');
  if (suppressedRows > 0) {
    out.push(
      `* suppressed: ${suppressedRows} summar${suppressedRows === 1 ? 'y describes' : 'ies describe'} fewer than k = ${k} patients; every figure of ${suppressedRows === 1 ? 'it is' : 'them is'} masked.`,
    );
  }
  return `${out.join('\n')}\n`;
}
