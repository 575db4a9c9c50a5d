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

/** JSON with object keys sorted at every level: the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
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
