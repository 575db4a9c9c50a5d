/**
 * PostgreSQL array literals (`{"a","b"}`) of a batch's columns, for `unnest($1::text[], ...)`.
 *
 * node-postgres serializes a JS array element by element (two regex replaces and a
 * concatenation per element): for the eight columns of a 2,000-event batch that was one of
 * the worker's larger costs. `JSON.stringify` of the whole array writes each string in double
 * quotes with `"` and `\` escaped by a backslash, which is exactly the quoting of an array
 * element, in one native call. It differs only where JSON escapes a control character (`\n`,
 * `\t`, `\u0001`: PostgreSQL would read `\n` as the letter n); when the JSON text holds such an
 * escape, or what might be one (an escaped backslash before `n`), the elements are quoted one
 * by one instead.
 */

const JSON_CONTROL_ESCAPE = /\\[bfnrtu]/;
const ELEMENT_SPECIALS = /[\\"]/g;

export function textArrayLiteral(values: readonly string[]): string {
  const json = JSON.stringify(values);
  if (!JSON_CONTROL_ESCAPE.test(json)) return `{${json.slice(1, -1)}}`;
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    literal += `${i === 0 ? '' : ','}"${(values[i] as string).replace(ELEMENT_SPECIALS, '\\$&')}"`;
  }
  return `${literal}}`;
}

/** Integers need no quoting: `{1,2,3}`. */
export function integerArrayLiteral(values: readonly number[]): string {
  for (const value of values) {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  }
  return `{${values.join(',')}}`;
}
