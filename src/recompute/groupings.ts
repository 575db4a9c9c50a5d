import type { RunPatientRow } from '../db/database.js';
import { type AnalysisParameters, cycleGroupLabels } from './parameters.js';

/** Grouping names of SPEC section 8, in output order. */
export const GROUPINGS = [
  'overall',
  'radiotherapy',
  'cycles',
  'radiotherapy_cycles',
  'cycles_landmark',
  'radiotherapy_landmark',
] as const;
export type Grouping = (typeof GROUPINGS)[number];

/** The per-patient columns a grouping needs (a subset of a run_patients row). */
export type AnalysedPatient = Pick<
  RunPatientRow,
  | 'time_months'
  | 'event'
  | 'radiotherapy'
  | 'cycle_group'
  | 'landmark_eligible'
  | 'landmark_time_months'
  | 'landmark_cycle_group'
  | 'landmark_radiotherapy'
>;

/**
 * One part of a group label, read from a patient: a yes/no flag (null reads as no) or a group
 * name. A label is its grouping's parts joined by ':'.
 */
export type LabelPart =
  | { flag: (patient: AnalysedPatient) => boolean | null }
  | { name: (patient: AnalysedPatient) => string | null };

export type GroupingDefinition = {
  grouping: Grouping;
  /** Group labels in display order (groups without patients are left out of the output). */
  labels: string[];
  /** The patient's group and time in this grouping, or null when the patient is not in it. */
  classify: (patient: AnalysedPatient) => { group: string; time: number } | null;
  /**
   * `classify` taken apart, for a caller that places tens of thousands of patients and should
   * allocate nothing per patient (see `survivalColumnsByGrouping`): whether the patient is in
   * the grouping, its time there, and the parts of its group label. Both give the same group
   * and time for every patient (property-tested in test/recompute/grouping-columns.test.ts).
   */
  includes: (patient: AnalysedPatient) => boolean;
  timeOf: (patient: AnalysedPatient) => number;
  labelParts: readonly [LabelPart] | readonly [LabelPart, LabelPart];
};

const yesNo = (value: boolean | null) => (value ? 'yes' : 'no');

/** The label a grouping's parts make for a patient (the fast path's labels are made by this). */
export function labelOf(parts: GroupingDefinition['labelParts'], patient: AnalysedPatient): string {
  return parts
    .map((part) => ('flag' in part ? yesNo(part.flag(patient)) : String(part.name(patient))))
    .join(':');
}

export function groupingDefinitions(parameters: AnalysisParameters): GroupingDefinition[] {
  const cycleLabels = cycleGroupLabels(parameters.cycleGroupBounds).map((g) => g.label);
  const time = (p: AnalysedPatient) => p.time_months as number;
  const landmarkTime = (p: AnalysedPatient) => p.landmark_time_months as number;
  const everyone = () => true;
  const landmarkEligible = (p: AnalysedPatient) => p.landmark_eligible;
  const radiotherapy: LabelPart = { flag: (p) => p.radiotherapy };
  const cycleGroup: LabelPart = { name: (p) => p.cycle_group };
  return [
    {
      grouping: 'overall',
      labels: ['all'],
      classify: (p) => ({ group: 'all', time: time(p) }),
      includes: everyone,
      timeOf: time,
      labelParts: [{ name: () => 'all' }],
    },
    {
      grouping: 'radiotherapy',
      labels: ['yes', 'no'],
      classify: (p) => ({ group: yesNo(p.radiotherapy), time: time(p) }),
      includes: everyone,
      timeOf: time,
      labelParts: [radiotherapy],
    },
    {
      grouping: 'cycles',
      labels: cycleLabels,
      classify: (p) => ({ group: p.cycle_group as string, time: time(p) }),
      includes: everyone,
      timeOf: time,
      labelParts: [cycleGroup],
    },
    {
      grouping: 'radiotherapy_cycles',
      labels: ['yes', 'no'].flatMap((rt) => cycleLabels.map((c) => `${rt}:${c}`)),
      classify: (p) => ({ group: `${yesNo(p.radiotherapy)}:${p.cycle_group}`, time: time(p) }),
      includes: everyone,
      timeOf: time,
      labelParts: [radiotherapy, cycleGroup],
    },
    {
      grouping: 'cycles_landmark',
      labels: cycleLabels,
      classify: (p) =>
        p.landmark_eligible ? { group: p.landmark_cycle_group as string, time: landmarkTime(p) } : null,
      includes: landmarkEligible,
      timeOf: landmarkTime,
      labelParts: [{ name: (p) => p.landmark_cycle_group }],
    },
    {
      grouping: 'radiotherapy_landmark',
      labels: ['yes', 'no'],
      classify: (p) =>
        p.landmark_eligible ? { group: yesNo(p.landmark_radiotherapy), time: landmarkTime(p) } : null,
      includes: landmarkEligible,
      timeOf: landmarkTime,
      labelParts: [{ flag: (p) => p.landmark_radiotherapy }],
    },
  ];
}
