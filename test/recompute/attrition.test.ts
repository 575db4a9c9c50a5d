import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attritionFrom,
  type CompositionRow,
  countsFrom,
  landmarkStepName,
} from '../../src/recompute/attrition.js';
import { REASONS, STEPS } from '../../src/recompute/derive-cohort.js';

/** The attrition table as its definition reads: every step filters the rows again. */
function referenceAttrition(rows: readonly CompositionRow[], landmarkMonths: number) {
  const sum = (keep: (row: CompositionRow) => boolean) =>
    rows.filter(keep).reduce((total, row) => total + row.patients, 0);
  const reasonsOf = (keep: (row: CompositionRow) => boolean, reasonOf: (row: CompositionRow) => string) => {
    const reasons: Record<string, number> = {};
    for (const row of rows.filter(keep))
      reasons[reasonOf(row)] = (reasons[reasonOf(row)] ?? 0) + row.patients;
    // The known reasons in their defined order, then any other alphabetically.
    const known: string[] = Object.values(REASONS);
    return Object.fromEntries(
      Object.entries(reasons).sort(([a], [b]) => known.indexOf(a) - known.indexOf(b) || a.localeCompare(b)),
    );
  };
  const total = sum(() => true);
  const steps: unknown[] = [{ step: STEPS.ledger, patients: total }];
  let remaining = total;
  for (const step of [STEPS.registered, STEPS.eligible, STEPS.treated, STEPS.analysable]) {
    const excluded = sum((r) => r.excluded_at === step);
    remaining -= excluded;
    steps.push({
      step,
      patients: remaining,
      excluded,
      reasons: reasonsOf(
        (r) => r.excluded_at === step,
        (r) => r.reason,
      ),
    });
  }
  const landmarkExcluded = sum((r) => r.landmark_reason !== null);
  steps.push({
    step: landmarkStepName(landmarkMonths),
    patients: remaining - landmarkExcluded,
    excluded: landmarkExcluded,
    reasons: reasonsOf(
      (r) => r.landmark_reason !== null,
      (r) => r.landmark_reason as string,
    ),
  });
  return steps;
}

const row: fc.Arbitrary<CompositionRow> = fc.record({
  excluded_at: fc.option(fc.constantFrom(...Object.values(STEPS), 'some later step')),
  reason: fc.constantFrom('', ...Object.values(REASONS), 'an unknown reason'),
  landmark_reason: fc.option(fc.constantFrom(REASONS.landmarkDied, REASONS.landmarkCensored, 'other')),
  registered: fc.boolean(),
  analysable: fc.boolean(),
  landmark_eligible: fc.boolean(),
  flagged: fc.boolean(),
  patients: fc.integer({ min: 1, max: 10_000 }),
});

describe('counts and attrition from patient combinations', () => {
  it('equal their definitions (each step and count summed over the rows it keeps)', () => {
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 80 }),
        fc.integer({ min: 1, max: 24 }),
        (rows, landmarkMonths) => {
          expect(attritionFrom(rows, landmarkMonths)).toEqual(referenceAttrition(rows, landmarkMonths));
          const sum = (keep: (r: CompositionRow) => boolean) =>
            rows.filter(keep).reduce((total, r) => total + r.patients, 0);
          expect(countsFrom(rows)).toEqual({
            patientsInLedger: sum(() => true),
            registered: sum((r) => r.registered),
            analysed: sum((r) => r.analysable),
            landmark: sum((r) => r.landmark_eligible),
            flagged: sum((r) => r.flagged),
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
