import { createHmac } from 'node:crypto';

/**
 * Keyed hashes of personal data (SPEC 6).
 *
 * The patient key is HMAC-SHA256(PSEUDONYM_KEY, patientId), hex, deliberately WITHOUT the
 * source: the systems of one hospital network share its MRN namespace, and a patient's
 * registration (EHR) must join their cycles (oncology system) and death (follow-up clinic).
 * Keyed, so nobody without the key can hash candidate MRNs and match them.
 */
export function patientKey(pseudonymKey: string, patientId: string): string {
  return createHmac('sha256', pseudonymKey).update(patientId, 'utf8').digest('hex');
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

/**
 * The content hash that tells an identical re-delivery (duplicate) from a conflicting one.
 * Keyed for the same reason as the patient key: the hashed content includes the raw patientId.
 */
export function contentHash(
  pseudonymKey: string,
  content: { type: string; schemaVersion: number; patientId: string; occurredOn: string; payload: unknown },
): string {
  return createHmac('sha256', pseudonymKey)
    .update(
      canonicalJson({
        type: content.type,
        schemaVersion: content.schemaVersion,
        patientId: content.patientId,
        occurredOn: content.occurredOn,
        payload: content.payload,
      }),
      'utf8',
    )
    .digest('hex');
}
