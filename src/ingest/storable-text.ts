import type { RejectionReason } from '../contract/events.js';

/**
 * PostgreSQL cannot store every JavaScript string: `text` and `jsonb` refuse U+0000, and jsonb
 * refuses an unpaired UTF-16 surrogate (`\ud800`). Such input must be rejected with a reason
 * (its raw body kept, encrypted) instead of failing the whole batch on every retry.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE_ALL = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function problemOf(text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate, which cannot be stored';
  return null;
}

/**
 * Whether a JSON text can parse to a value holding unstorable text: U+0000 can only come from a
 * `\u` escape (JSON forbids raw control characters in strings) and a lone surrogate only from a
 * `\u` escape or a surrogate code unit in the text itself. A cheap scan of the raw text that
 * spares the walk of the parsed value for almost every input; true means "walk it", not "bad".
 */
export function mayHoldUnstorableText(rawJson: string): boolean {
  return rawJson.includes('\\u') || ANY_SURROGATE.test(rawJson);
}

/** The first string (value or object key) in a parsed JSON value that cannot be stored. */
export function findUnstorableText(value: unknown): RejectionReason | null {
  return findIn(value, [], 0);
}

// `path` holds the raw keys on the way down (pushed and popped, no copy per level); they are made
// storable only for the one reason that is reported.
function findIn(value: unknown, path: string[], depth: number): RejectionReason | null {
  const where = () => path.map((key) => storableText(key, 100)).join('.') || '(event)';
  if (typeof value === 'string') {
    const problem = problemOf(value);
    return problem ? { path: where(), message: problem } : null;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      const found = findIn(value[i], path, depth + 1);
      path.pop();
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const keyProblem = problemOf(key);
    if (keyProblem) return { path: where(), message: `a field name ${keyProblem}` };
    path.push(key);
    const found = findIn((value as Record<string, unknown>)[key], path, depth + 1);
    path.pop();
    if (found) return found;
  }
  return null;
}

/** A string made storable (U+FFFD for NUL and lone surrogates) and capped: for reasons and labels. */
export function storableText(text: string, max: number): string {
  const safe = text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE_ALL, '\uFFFD');
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}
