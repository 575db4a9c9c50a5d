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

export interface Database {
  events: EventsTable;
  ingest_submissions: IngestSubmissionsTable;
  ingest_batches: IngestBatchesTable;
  rejected_events: RejectedEventsTable;
  api_sources: ApiSourcesTable;
  api_keys: ApiKeysTable;
  api_submissions: ApiSubmissionsTable;
}

export type EventRow = Selectable<EventsTable>;
export type NewEventRow = Insertable<EventsTable>;
export type IngestBatchRow = Selectable<IngestBatchesTable>;
export type RejectedEventRow = Selectable<RejectedEventsTable>;
