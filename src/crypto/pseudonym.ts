import { type HmacSha256Hex, hmacSha256Hex } from './hmac-sha256.js';

// The keyed hash of the configured key, prepared once (one entry: a process uses one key).
let cached: { key: string; hmac: HmacSha256Hex } | undefined;
function keyedHash(pseudonymKey: string): HmacSha256Hex {
  if (cached?.key !== pseudonymKey) cached = { key: pseudonymKey, hmac: hmacSha256Hex(pseudonymKey) };
  return cached.hmac;
}

/**
 * Keyed hashes of personal data (SPEC 6).
 *
 * The patient key is HMAC-SHA256(PSEUDONYM_KEY, patientId), hex, deliberately WITHOUT the
 * source: the systems of one hospital network share its MRN namespace, and a patient's
 * registration (EHR) must join their cycles (oncology system) and death (follow-up clinic).
 * Keyed, so nobody without the key can hash candidate MRNs and match them.
 */
export function patientKey(pseudonymKey: string, patientId: string): string {
  return keyedHash(pseudonymKey)(patientId);
}

const quotedKeys = new Map<string, string>();

/**
 * `canonicalJson(record)` for a flat record whose possible keys are known and already sorted
 * (an event payload: its type's fields), without listing and sorting its keys each time: this
 * runs for every ingested event. A record with a key not in `sortedKeys`, or a field that is
 * not a string, number, boolean or null, takes the general path.
 */
export function canonicalJsonOfFlat(record: Record<string, unknown>, sortedKeys: readonly string[]): string {
  let out = '';
  let written = 0;
  for (const key of sortedKeys) {
    const value = record[key];
    if (value === undefined) continue;
    if (!isJsonPrimitive(value)) return canonicalJson(record);
    let quoted = quotedKeys.get(key);
    if (quoted === undefined) {
      quoted = `${JSON.stringify(key)}:`;
      quotedKeys.set(key, quoted);
    }
    out += `${written === 0 ? '{' : ','}${quoted}${JSON.stringify(value)}`;
    written++;
  }
  let present = 0;
  for (const key in record) if (record[key] !== undefined) present++;
  if (present !== written) return canonicalJson(record);
  return written === 0 ? '{}' : `${out}}`;
}

/**
 * JSON with object keys sorted at every level: the same content always gives the same text.
 * Written as plain loops (no entries/filter/map arrays): it runs for every ingested event.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, as `<` does.
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const field = record[key];
    if (field === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(field)}`;
    first = false;
  }
  return `${out}}`;
}

function isJsonPrimitive(value: unknown): boolean {
  const type = typeof value;
  return value === null || type === 'string' || type === 'number' || type === 'boolean';
}

/**
 * The content hash that tells an identical re-delivery (duplicate) from a conflicting one.
 * Keyed for the same reason as the patient key: the hashed content includes the raw patientId.
 * The hashed text is `canonicalJson({ type, schemaVersion, patientId, occurredOn, payload })`,
 * written out with its five top-level keys already in sorted order (it runs for every event;
 * test/ingest/crypto.test.ts holds it equal to the generic form).
 */
export function contentHash(
  pseudonymKey: string,
  content: { type: string; schemaVersion: number; patientId: string; occurredOn: string; payload: unknown },
  /** `canonicalJson(content.payload)`, when the caller has it already. */
  canonicalPayload: string = canonicalJson(content.payload),
): string {
  const text =
    `{"occurredOn":${JSON.stringify(content.occurredOn)},"patientId":${JSON.stringify(content.patientId)},` +
    `"payload":${canonicalPayload},"schemaVersion":${canonicalJson(content.schemaVersion)},` +
    `"type":${JSON.stringify(content.type)}}`;
  return keyedHash(pseudonymKey)(text);
}
