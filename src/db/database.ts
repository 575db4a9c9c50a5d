import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * The one typed view of the schema that `migrations/` builds. Keep it in step with the
 * migrations: a new migration that adds a table or a column adds it here too.
 */

/** A `date` column: returned as `YYYY-MM-DD` text (see the type parser in connection.ts). */
type DateColumn = ColumnType<string, string, string>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface EventsTable {
  seq: ColumnType<string, never, never>;
  source: string;
  event_id: string;
  type: string;
  schema_version: number;
  patient_key: string;
  occurred_on: DateColumn;
  payload: ColumnType<Record<string, unknown>, string, string>;
  content_hash: string;
  batch_id: string;
  received_at: Timestamp;
  // Generated from the row by PostgreSQL (migration 2026-11-27T13-00-00Z): read only.
  fact_on: ColumnType<string, never, never>;
  is_line1_cycle: ColumnType<boolean | null, never, never>;
  cycle_number: ColumnType<number | null, never, never>;
  is_local_line1_radiotherapy: ColumnType<boolean | null, never, never>;
  registration_histology: ColumnType<string | null, never, never>;
  registration_disease_setting: ColumnType<string | null, never, never>;
  registration_diagnosed_on: ColumnType<string | null, never, never>;
}

export interface IngestSubmissionsTable {
  id: string;
  channel: 'cli' | 'http' | 'fhir' | 'retry';
  source: string | null;
  description: string | null;
  batch_count: number | null;
  event_count: number | null;
  created_at: Timestamp;
  sealed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface IngestBatchesTable {
  id: string;
  submission_id: string;
  batch_index: number;
  event_count: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  processed_at: Timestamp;
}

export interface RejectedEventsTable {
  id: Generated<string>;
  batch_id: string;
  item_index: number;
  line_number: number | null;
  source: string | null;
  event_id: string | null;
  event_type: string | null;
  kind: 'invalid' | 'conflict';
  reasons: ColumnType<{ path: string; message: string }[], string, string>;
  raw_body: Buffer;
  received_at: Timestamp;
  resolved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The retry submission that resolved it (`survflow rejected retry`). */
  resolved_by: string | null;
}

export type ApiScope = 'ingest' | 'query' | 'admin';

export interface ApiSourcesTable {
  name: string;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface ApiKeysTable {
  /** The key's public prefix (`sfk_` + 12 hex): how a presented key is found. */
  id: string;
  source: string;
  /** SHA-256 (hex) of the whole key. */
  key_hash: string;
  scopes: ColumnType<ApiScope[], ApiScope[], ApiScope[]>;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface ApiSubmissionsTable {
  submission_id: string;
  source: string;
  idempotency_key: string;
  body_sha256: string;
  response: ColumnType<Record<string, unknown>, string, string>;
  created_at: Timestamp;
}

export type RunStatus = 'running' | 'published' | 'failed' | 'abandoned';
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type DoubleColumn = number | null;
/** A `float8[]` step-curve column: read as numbers (NULL elements as null), written binary-encoded. */
type CurveColumn = ColumnType<(number | null)[] | null, Uint8Array | null, never>;

export interface RunsTable {
  id: Generated<string>;
  status: RunStatus;
  cutoff: DateColumn;
  trigger: string;
  job_id: string | null;
  requested_at: NullableTimestamp;
  worker: string;
  parameters: ColumnType<Record<string, unknown>, string, string>;
  landmark_months: number;
  cycle_group_bounds: number[];
  suppression_k: number;
  time_unit: string;
  days_per_month: number;
  conf_type: string;
  conf_level: number;
  started_at: Generated<Date>;
  finished_at: NullableTimestamp;
  published_at: NullableTimestamp;
  stage: string | null;
  patients_in_ledger: number | null;
  patients_registered: number | null;
  patients_analysed: number | null;
  patients_landmark: number | null;
  patients_flagged: number | null;
  error: string | null;
  /** Execution order of runs (bigint, as text): the unit of `patient_facts` validity. */
  run_no: Generated<string>;
  /** Set when the run's patient facts were derived (only then does it have `run_patients`). */
  facts_derived: Generated<boolean>;
  facts_mode: 'full' | 'incremental' | null;
  patients_rederived: number | null;
  /** SHA-256 of what the run's results are computed from (see src/recompute/reuse-results.ts). */
  inputs_fingerprint: string | null;
  /** The run whose results this run copied (identical inputs), else null. */
  results_reused_from: string | null;
}

export interface RunPatientsTable {
  run_id: string;
  patient_key: string;
  registered: boolean;
  histology: string | null;
  disease_setting: string | null;
  diagnosed_on: string | null;
  time_zero: string | null;
  death_on: string | null;
  last_alive_on: string | null;
  exit_on: string | null;
  event: number | null;
  time_months: DoubleColumn;
  radiotherapy: boolean | null;
  cycles: number | null;
  cycle_group: string | null;
  excluded_at: string | null;
  exclusion_reason: string | null;
  analysable: boolean;
  landmark_eligible: boolean;
  landmark_exclusion_reason: string | null;
  landmark_time_months: DoubleColumn;
  landmark_cycles: number | null;
  landmark_cycle_group: string | null;
  landmark_radiotherapy: boolean | null;
  flags: string[];
}

/** One version of one patient's derived row (the `run_patients` columns without the run). */
export type PatientFactsTable = Omit<RunPatientsTable, 'run_id'> & {
  /** run_no of the run that derived it. */
  valid_from: string;
  /** run_no of the run that replaced it; null while it is the current version. */
  valid_to: string | null;
};

/** The single row saying what the current `patient_facts` versions reflect. */
export interface PatientFactsStateTable {
  id: boolean;
  derived_through_seq: string;
  cutoff: DateColumn;
  derivation_key: string;
  run_no: string;
  /** The run whose refresh last changed `patient_fact_combinations` (equal: identical combinations). */
  combinations_run_no: string;
  updated_at: Generated<Date>;
}

/** The current versions counted by distinct combination of the columns runs use (see migration). */
export interface PatientFactCombinationsTable {
  excluded_at: string | null;
  reason: string;
  landmark_reason: string | null;
  registered: boolean;
  analysable: boolean;
  landmark_eligible: boolean;
  flagged: boolean;
  time_months: DoubleColumn;
  event: number | null;
  radiotherapy: boolean | null;
  cycle_group: string | null;
  landmark_time_months: DoubleColumn;
  landmark_cycle_group: string | null;
  landmark_radiotherapy: boolean | null;
  patients: number;
}

export interface RunAttritionTable {
  run_id: string;
  position: number;
  step: string;
  patients: number;
  excluded: number | null;
  reasons: ColumnType<Record<string, number> | null, string | null, string | null>;
}

export interface RunSummariesTable {
  run_id: string;
  grouping: string;
  group_label: string;
  position: number;
  n: number;
  events: number;
  censored: number;
  median: DoubleColumn;
  median_lower: DoubleColumn;
  median_upper: DoubleColumn;
  surv_12: DoubleColumn;
  surv_24: DoubleColumn;
  surv_36: DoubleColumn;
  rmst: DoubleColumn;
  rmst_tau: DoubleColumn;
  follow_up_median: DoubleColumn;
  /** The SPEC section 8 summary of the group, without its step curve (the curve_* columns). */
  summary: ColumnType<Record<string, unknown>, string, string>;
  // The step curve (migration 2026-11-27T04-30-00Z): element i of each is the i-th point. Written
  // in PostgreSQL's binary array format (src/db/binary-float8-array.ts), read as numbers.
  curve_time: CurveColumn;
  curve_n_risk: CurveColumn;
  curve_n_event: CurveColumn;
  curve_n_censor: CurveColumn;
  curve_surv: CurveColumn;
  curve_std_err: CurveColumn;
  curve_lower: CurveColumn;
  curve_upper: CurveColumn;
}

export interface RunTestsTable {
  run_id: string;
  grouping: string;
  position: number;
  logrank_chisq: DoubleColumn;
  logrank_df: number | null;
  logrank_p: DoubleColumn;
  cox_reference: string | null;
  cox_group: string | null;
  cox_hr: DoubleColumn;
  cox_lower: DoubleColumn;
  cox_upper: DoubleColumn;
  cox_p: DoubleColumn;
  test: ColumnType<Record<string, unknown>, string, string>;
}

/** Read-only views (migration 2026-11-26T16-30-00Z): suppression applied. */
export interface PublishedSummariesView {
  run_id: string;
  cutoff: DateColumn;
  published_at: Date;
  grouping: string;
  group_label: string;
  position: number;
  suppressed: boolean;
  n: number | null;
  events: number | null;
  censored: number | null;
  median: DoubleColumn;
  median_lower: DoubleColumn;
  median_upper: DoubleColumn;
  surv_12: DoubleColumn;
  surv_24: DoubleColumn;
  surv_36: DoubleColumn;
  rmst: DoubleColumn;
  rmst_tau: DoubleColumn;
  follow_up_median: DoubleColumn;
  summary: Record<string, unknown> | null;
  curve_time: (number | null)[] | null;
  curve_n_risk: (number | null)[] | null;
  curve_n_event: (number | null)[] | null;
  curve_n_censor: (number | null)[] | null;
  curve_surv: (number | null)[] | null;
  curve_std_err: (number | null)[] | null;
  curve_lower: (number | null)[] | null;
  curve_upper: (number | null)[] | null;
}

export interface Database {
  events: EventsTable;
  ingest_submissions: IngestSubmissionsTable;
  ingest_batches: IngestBatchesTable;
  rejected_events: RejectedEventsTable;
  api_sources: ApiSourcesTable;
  api_keys: ApiKeysTable;
  api_submissions: ApiSubmissionsTable;
  runs: RunsTable;
  /** A view: legacy per-run rows plus the `patient_facts` versions valid in each run. */
  run_patients: RunPatientsTable;
  patient_facts: PatientFactsTable;
  /** Staging of a full rebuild in partitions (unlogged; migration 2026-11-26T23-45-00Z). */
  patient_facts_rebuild: PatientFactsTable;
  patient_facts_state: PatientFactsStateTable;
  patient_fact_combinations: PatientFactCombinationsTable;
  run_attrition: RunAttritionTable;
  run_summaries: RunSummariesTable;
  run_tests: RunTestsTable;
  latest_run: RunsTable;
  published_summaries: PublishedSummariesView;
  latest_summaries: PublishedSummariesView;
}

export type EventRow = Selectable<EventsTable>;
export type NewEventRow = Insertable<EventsTable>;
export type IngestBatchRow = Selectable<IngestBatchesTable>;
export type RejectedEventRow = Selectable<RejectedEventsTable>;
export type RunRow = Selectable<RunsTable>;
export type RunPatientRow = Selectable<RunPatientsTable>;
