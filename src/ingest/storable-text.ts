import type { RejectionReason } from '../contract/events.js';

/**
 * PostgreSQL cannot store every JavaScript string: `text` and `jsonb` refuse U+0000, and jsonb
 * refuses an unpaired UTF-16 surrogate (`\ud800`). Such input must be rejected with a reason
 * (its raw body kept, encrypted) instead of failing the whole batch on every retry.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_ALL = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function problemOf(text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate, which cannot be stored';
  return null;
}

/** The first string (value or object key) in a parsed JSON value that cannot be stored. */
export function findUnstorableText(value: unknown, path: string[] = [], depth = 0): RejectionReason | null {
  const where = () => path.join('.') || '(event)';
  if (typeof value === 'string') {
    const problem = problemOf(value);
    return problem ? { path: where(), message: problem } : null;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], [...path, String(i)], depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const keyProblem = problemOf(key);
    if (keyProblem) return { path: where(), message: `a field name ${keyProblem}` };
    const found = findUnstorableText(child, [...path, storableText(key, 100)], depth + 1);
    if (found) return found;
  }
  return null;
}

/** A string made storable (U+FFFD for NUL and lone surrogates) and capped: for reasons and labels. */
export function storableText(text: string, max: number): string {
  const safe = text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE_ALL, '\uFFFD');
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}
