import { readFileSync } from 'node:fs';
import type { PublishedGroupingTests, PublishedGroupSummary } from '../../src/plot/summary-input.js';
import type { RunReportInput } from '../../src/report/report-html.js';
import type { CurvePoint } from '../../src/stats/types.js';
import { suppressedSummary } from '../../src/summaries/load-run-summary.js';

/**
 * Summary fixtures for the plot and report tests, built from numbers R's `survival` package
 * computed (test/fixtures/plot-r-reference, copies of /work/shared/reference). The reference
 * cases are relabelled as survflow groupings; `aml_weeks` is in weeks, drawn here as if months.
 */

type RGroup = {
  n: number;
  events: number;
  censored: number;
  median: number | null;
  median_lower95: number | null;
  median_upper95: number | null;
  followup_median_reverse_km: number | null;
  survival_at: {
    time: number;
    surv: number;
    std_err: number | null;
    lower95: number | null;
    upper95: number | null;
    n_risk: number;
    in_range: boolean;
  }[];
  at_risk: { time: number[]; n_risk: number[] };
  rmst_common: { tau: number; rmean: number; se: number | null };
  curve: {
    time: number[];
    n_risk: number[];
    n_event: number[];
    n_censor: number[];
    surv: number[];
    std_err: (number | null)[];
    lower: (number | null)[];
    upper: (number | null)[];
  };
};

type RReference = {
  groups: Record<string, RGroup>;
  logrank: { chisq: number; df: number; p: number | null } | null;
  cox: {
    reference: string;
    levels: string[];
    hr?: number | null;
    hr_lower95?: number | null;
    hr_upper95?: number | null;
    wald_p?: number | null;
  } | null;
};

export type ReferenceCase = 'aml_weeks' | 'never_median_small' | 'three_arms' | 'ties_small';

export function readReference(name: ReferenceCase): RReference {
  const url = new URL(`../fixtures/plot-r-reference/${name}.expected.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as RReference;
}

function at<T>(values: readonly T[], index: number): T {
  return values[index] as T;
}

export function summaryFromReference(grouping: string, group: string, r: RGroup): PublishedGroupSummary {
  const curve: CurvePoint[] = r.curve.time.map((time, i) => ({
    time,
    nRisk: at(r.curve.n_risk, i),
    nEvent: at(r.curve.n_event, i),
    nCensor: at(r.curve.n_censor, i),
    surv: at(r.curve.surv, i),
    stdErr: at(r.curve.std_err, i),
    lower: at(r.curve.lower, i),
    upper: at(r.curve.upper, i),
  }));
  return {
    grouping,
    group,
    n: r.n,
    events: r.events,
    censored: r.censored,
    median: r.median,
    medianLower: r.median_lower95,
    medianUpper: r.median_upper95,
    survival: r.survival_at.map((s) => ({
      time: s.time,
      surv: s.surv,
      stdErr: s.std_err,
      lower: s.lower95,
      upper: s.upper95,
      nRisk: s.n_risk,
      inRange: s.in_range,
    })),
    rmst: { tau: r.rmst_common.tau, estimate: r.rmst_common.rmean, stdErr: r.rmst_common.se },
    followUpMedian: r.followup_median_reverse_km,
    atRisk: r.at_risk.time.map((time, i) => ({ time, nRisk: at(r.at_risk.n_risk, i) })),
    suppressed: false,
    curve,
  };
}

export { suppressedSummary };

/**
 * One grouping from a reference case: `labels` maps R's group names to survflow's, in display
 * order. The Cox comparison is kept only for two-group cases, as survflow publishes it.
 */
export function groupingFromReference(
  name: ReferenceCase,
  grouping: string,
  labels: Record<string, string>,
): { summaries: PublishedGroupSummary[]; test: PublishedGroupingTests } {
  const reference = readReference(name);
  const summaries = Object.entries(labels).map(([rName, label]) => {
    const group = reference.groups[rName];
    if (!group) throw new Error(`reference ${name} has no group ${rName}`);
    return summaryFromReference(grouping, label, group);
  });
  const cox = reference.cox;
  const other = cox?.levels.find((level) => level !== cox.reference);
  return {
    summaries,
    test: {
      grouping,
      logRank: reference.logrank
        ? { chisq: reference.logrank.chisq, df: reference.logrank.df, p: reference.logrank.p }
        : null,
      cox:
        cox && other && cox.levels.length === 2
          ? {
              reference: labels[cox.reference] ?? cox.reference,
              group: labels[other] ?? other,
              hr: cox.hr ?? null,
              lower: cox.hr_lower95 ?? null,
              upper: cox.hr_upper95 ?? null,
              p: cox.wald_p ?? null,
            }
          : null,
    },
  };
}

export const FIXTURE_PARAMETERS = {
  cutoff: '2023-06-30',
  landmarkMonths: 9,
  cycleGroupBounds: [6, 12],
  suppressionK: 5,
  timeUnit: 'months',
  daysPerMonth: 30.4375,
  confType: 'log',
  confLevel: 0.95,
  survivalTimes: [12, 24, 36],
  atRiskStep: 6,
};

/** A whole run document with every SPEC grouping, suppressed groups and data-quality counts. */
export function fixtureRunReport(): RunReportInput {
  const overall = groupingFromReference('three_arms', 'overall', { ALL: 'all' });
  const radiotherapy = groupingFromReference('aml_weeks', 'radiotherapy', {
    Nonmaintained: 'yes',
    Maintained: 'no',
  });
  const cycles = groupingFromReference('three_arms', 'cycles', { A: '1-6', B: '7-12', C: '>12' });
  const cross = groupingFromReference('ties_small', 'radiotherapy_cycles', {
    ctrl: 'yes:1-6',
    exp: 'no:1-6',
  });
  const landmark = groupingFromReference('never_median_small', 'cycles_landmark', {
    poor: '1-6',
    good: '>12',
  });
  return {
    run: {
      id: 'run-2023-06-30-fixture',
      cutoff: '2023-06-30',
      publishedAt: '2023-07-01T02:00:05.000Z',
      parameters: FIXTURE_PARAMETERS,
    },
    attrition: [
      { step: 'patients in the ledger', patients: 81 },
      {
        step: 'registered',
        patients: 80,
        excluded: 1,
        reasons: { 'no patient.registered event': 1 },
      },
      {
        step: 'ESCC recurrent/metastatic',
        patients: 75,
        excluded: 5,
        reasons: { 'histology not ESCC': 3, 'disease setting not recurrent/metastatic': 2 },
      },
      { step: 'first-line immunotherapy', patients: 73, excluded: 2, reasons: { 'no line-1 cycle': 2 } },
      {
        step: 'alive and in follow-up at 9 months',
        patients: 19,
        excluded: 54,
        reasons: { 'died before 9 months': 54 },
      },
    ],
    summaries: [
      ...overall.summaries,
      ...radiotherapy.summaries,
      ...cycles.summaries,
      ...cross.summaries,
      suppressedSummary('radiotherapy_cycles', 'yes:>12'),
      suppressedSummary('radiotherapy_cycles', 'no:>12'),
      landmark.summaries[0] as PublishedGroupSummary,
      suppressedSummary('cycles_landmark', '7-12'),
      landmark.summaries[1] as PublishedGroupSummary,
    ],
    tests: [radiotherapy.test, cycles.test, { ...cross.test, cox: null }, { ...landmark.test, cox: null }],
    dataQuality: [
      { flag: 'death before diagnosis', patients: 1 },
      { flag: 'cycle after death', patients: 2 },
    ],
  };
}
