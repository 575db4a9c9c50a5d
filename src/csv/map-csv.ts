import type { RejectionReason } from '../contract/events.js';
import { InputError } from '../errors.js';
import { parseCsv } from './parse-csv.js';

/**
 * CSV intake for coordinators' spreadsheets (README "CSV intake"). A header row names the
 * columns; every row carries the envelope columns `type,eventId,patientId,occurredOn` (and
 * optionally `source`) plus the payload columns of its type. A file may hold one type (its
 * columns only) or several (the union of their columns; cells of columns that do not belong
 * to a row's type must be empty). Pure: text in, candidate events out.
 */

type Kind = 'text' | 'int' | 'number';

export const CSV_COLUMNS: Record<string, Record<string, Kind>> = {
  'patient.registered': {
    histology: 'text',
    diseaseSetting: 'text',
    diagnosedOn: 'text',
    sex: 'text',
    birthYear: 'int',
  },
  'immunotherapy.cycle': { line: 'int', cycleNumber: 'int', agent: 'text', regimen: 'text' },
  'radiotherapy.course': {
    line: 'int',
    intent: 'text',
    site: 'text',
    startedOn: 'text',
    endedOn: 'text',
    totalDoseGy: 'number',
    fractions: 'int',
  },
  'followup.contact': { vitalStatus: 'text' },
  'death.recorded': { diedOn: 'text', cause: 'text' },
  'event.retracted': { targetEventId: 'text', reason: 'text' },
};

const ENVELOPE = ['type', 'eventId', 'patientId', 'occurredOn'] as const;
const OPTIONAL_ENVELOPE = ['source'] as const;

export type CsvOutcome =
  | { kind: 'event'; line: number; event: Record<string, unknown>; raw: string }
  | { kind: 'rejected'; line: number; reasons: RejectionReason[]; raw: string };

const KNOWN_COLUMNS = new Set<string>([
  ...ENVELOPE,
  ...OPTIONAL_ENVELOPE,
  ...Object.values(CSV_COLUMNS).flatMap((columns) => Object.keys(columns)),
]);

/**
 * @param source the submitting source: used when the file has no `source` column (a `source`
 *   cell naming another source is kept and rejected downstream as a source mismatch).
 */
export function mapCsv(text: string, source: string | null): CsvOutcome[] {
  const { records, problems } = parseCsv(text);
  const header = records.shift();
  if (!header) throw new InputError('CSV input is empty (a header row is required)');
  const columns = header.fields.map((f) => f.trim());
  const unknown = columns.filter((c) => !KNOWN_COLUMNS.has(c));
  if (unknown.length)
    throw new InputError(`CSV line ${header.line}: unknown column(s) ${unknown.join(', ')}`);
  const missing = ENVELOPE.filter((c) => !columns.includes(c));
  if (missing.length)
    throw new InputError(`CSV line ${header.line}: missing column(s) ${missing.join(', ')}`);
  if (source === null && !columns.includes('source')) {
    throw new InputError('CSV input has no source column: give the source (--source NAME)');
  }

  const outcomes: CsvOutcome[] = problems.map((p) => ({
    kind: 'rejected' as const,
    line: p.line,
    reasons: [{ path: `(line ${p.line})`, message: `malformed CSV: ${p.message}` }],
    raw: p.text,
  }));
  for (const record of records) {
    const reasons: RejectionReason[] = [];
    const at = (column: string, message: string) =>
      reasons.push({ path: column, message: `line ${record.line}: ${message}` });
    if (record.fields.length !== columns.length) {
      at('(row)', `expected ${columns.length} fields, found ${record.fields.length}`);
      outcomes.push({ kind: 'rejected', line: record.line, reasons, raw: record.text });
      continue;
    }
    const cells = new Map(columns.map((c, i) => [c, (record.fields[i] ?? '').trim()]));
    const type = cells.get('type') ?? '';
    const payloadColumns = CSV_COLUMNS[type];
    if (!payloadColumns) {
      at('type', `unknown event type "${type}" (known: ${Object.keys(CSV_COLUMNS).join(', ')})`);
      outcomes.push({ kind: 'rejected', line: record.line, reasons, raw: record.text });
      continue;
    }
    const payload: Record<string, unknown> = {};
    for (const [column, value] of cells) {
      if (value === '' || KNOWN_COLUMNS.has(column) === false) continue;
      if ((ENVELOPE as readonly string[]).includes(column) || column === 'source') continue;
      const kind = payloadColumns[column];
      if (!kind) {
        at(column, `column ${column} does not belong to type ${type}; leave it empty`);
        continue;
      }
      if (kind === 'text') payload[column] = value;
      else {
        const n = Number(value);
        if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
          at(column, `expected ${kind === 'int' ? 'an integer' : 'a number'}, found "${value}"`);
        } else payload[column] = n;
      }
    }
    const event = {
      eventId: cells.get('eventId'),
      source: cells.get('source') || source,
      type,
      schemaVersion: 1,
      patientId: cells.get('patientId'),
      occurredOn: cells.get('occurredOn'),
      payload,
    };
    if (reasons.length) outcomes.push({ kind: 'rejected', line: record.line, reasons, raw: record.text });
    else outcomes.push({ kind: 'event', line: record.line, event, raw: record.text });
  }
  return outcomes.sort((a, b) => a.line - b.line);
}
