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

export type GroupingDefinition = {
  grouping: Grouping;
  /** Group labels in display order (groups without patients are left out of the output). */
  labels: string[];
  /** The patient's group and time in this grouping, or null when the patient is not in it. */
  classify: (patient: AnalysedPatient) => { group: string; time: number } | null;
};

const yesNo = (value: boolean | null) => (value ? 'yes' : 'no');

export function groupingDefinitions(parameters: AnalysisParameters): GroupingDefinition[] {
  const cycleLabels = cycleGroupLabels(parameters.cycleGroupBounds).map((g) => g.label);
  const time = (p: AnalysedPatient) => p.time_months as number;
  const landmarkTime = (p: AnalysedPatient) => p.landmark_time_months as number;
  return [
    { grouping: 'overall', labels: ['all'], classify: (p) => ({ group: 'all', time: time(p) }) },
    {
      grouping: 'radiotherapy',
      labels: ['yes', 'no'],
      classify: (p) => ({ group: yesNo(p.radiotherapy), time: time(p) }),
    },
    {
      grouping: 'cycles',
      labels: cycleLabels,
      classify: (p) => ({ group: p.cycle_group as string, time: time(p) }),
    },
    {
      grouping: 'radiotherapy_cycles',
      labels: ['yes', 'no'].flatMap((rt) => cycleLabels.map((c) => `${rt}:${c}`)),
      classify: (p) => ({ group: `${yesNo(p.radiotherapy)}:${p.cycle_group}`, time: time(p) }),
    },
    {
      grouping: 'cycles_landmark',
      labels: cycleLabels,
      classify: (p) =>
        p.landmark_eligible ? { group: p.landmark_cycle_group as string, time: landmarkTime(p) } : null,
    },
    {
      grouping: 'radiotherapy_landmark',
      labels: ['yes', 'no'],
      classify: (p) =>
        p.landmark_eligible ? { group: yesNo(p.landmark_radiotherapy), time: landmarkTime(p) } : null,
    },
  ];
}
