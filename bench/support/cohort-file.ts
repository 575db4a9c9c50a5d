import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { classifyItem } from '../../src/ingest/classify-item.js';
import { writeCohort } from '../../src/synth/write-cohort.js';
import { ROOT } from './services.js';

/** Mean events per synthetic patient (survflow synth), used to size files in events. */
export const EVENTS_PER_PATIENT = 17;

/** A synthetic cohort file in bench/tmp (kept between runs: same seed, same file). */
export async function cohortFile(patients: number, seed = 7): Promise<string> {
  const dir = join(ROOT, 'bench', 'tmp');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `cohort-${patients}-${seed}.ndjson`);
  if (existsSync(path)) return path;
  const out = createWriteStream(`${path}.part`);
  await writeCohort(out, {
    patients,
    seed,
    cutoff: '2024-06-30',
    enrolFrom: '2019-01-01',
    enrolTo: '2022-12-31',
  });
  out.end();
  await finished(out);
  renameSync(`${path}.part`, path);
  return path;
}

export type LedgerRow = [string, string, string, number, string, string, string, string];

/**
 * The file's events as ledger rows, pseudonymized and hashed exactly as the worker does
 * (classifyItem: JSON parse, contract validation, HMAC patient key and content hash).
 */
export async function ledgerRows(path: string, pseudonymKey: string) {
  const rows: LedgerRow[] = [];
  const keys = new Set<string>();
  let lines = 0;
  const input = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of input) {
    if (!line) continue;
    lines++;
    const item = classifyItem({ raw: line, line: lines }, lines, { pseudonymKey, expectedSource: null });
    if (item.kind !== 'valid') throw new Error(`bench: synthetic line ${lines} is invalid`);
    keys.add(`${item.source}\u0000${item.eventId}`);
    rows.push([
      item.source,
      item.eventId,
      item.type,
      item.schemaVersion,
      item.patientKey,
      item.occurredOn,
      item.payloadJson,
      item.contentHash,
    ]);
  }
  return { rows, lines, distinctKeys: keys.size };
}

/** COPY text format: backslash, tab, newline and carriage return escaped. */
const copyField = (value: string | number) =>
  String(value).replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );

/** Ledger rows as COPY text, in chunks of about 64 KB. */
export function* copyText(rows: LedgerRow[], extra: string[] = []) {
  let chunk = '';
  const tail = extra.length ? `\t${extra.join('\t')}` : '';
  for (const row of rows) {
    chunk += `${row.map(copyField).join('\t')}${tail}\n`;
    if (chunk.length > 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
