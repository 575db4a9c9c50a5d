/**
 * `COPY ... FROM STDIN` text format: one line per row, fields separated by tabs. Inside a field a
 * backslash, tab, newline or carriage return is written as `\\`, `\t`, `\n` or `\r`; nothing else
 * needs escaping (the ledger's fields are never NULL, so `\N` never has to be written, and an
 * escaped backslash can never be read as one).
 */

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const TO_ESCAPE = /[\\\t\n\r]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One field; the usual field (no special character) is returned as it is. */
export function copyField(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(TO_ESCAPE, (c) => ESCAPED[c] as string) : value;
}
