/**
 * A one-dimensional `float8[]` in PostgreSQL's binary array format (what `array_recv` reads).
 * node-postgres sends a Buffer (or any typed-array view) parameter in binary, so an array
 * written this way reaches a `float8[]` column without a number being formatted as text in
 * Node or parsed in PostgreSQL: for the ~230,000 numbers of a run's step curves, milliseconds
 * instead of the ~40 ms JSON.stringify spends on them and the server's text parsing.
 *
 * `null` becomes a NULL element. Every double, including NaN, the infinities and -0, is stored
 * as the same double (IEEE 754 binary64, big-endian on the wire).
 */

/** OID of `float8` (pg_type), the element type the array header names. */
const FLOAT8_OID = 701;
const HEADER_BYTES = 20;
const ELEMENT_BYTES = 4 + 8;

export function binaryFloat8Array(values: ArrayLike<number | null>): Uint8Array {
  const n = values.length;
  if (n === 0) {
    // Zero dimensions: the empty array (PostgreSQL writes no dimension for it either).
    const empty = new DataView(new ArrayBuffer(12));
    empty.setInt32(0, 0);
    empty.setInt32(4, 0);
    empty.setInt32(8, FLOAT8_OID);
    return new Uint8Array(empty.buffer);
  }
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] === null) nulls++;
  const bytes = new ArrayBuffer(HEADER_BYTES + (n - nulls) * ELEMENT_BYTES + nulls * 4);
  const view = new DataView(bytes);
  view.setInt32(0, 1); // dimensions
  view.setInt32(4, nulls > 0 ? 1 : 0); // has NULL elements
  view.setInt32(8, FLOAT8_OID);
  view.setInt32(12, n); // length of the dimension
  view.setInt32(16, 1); // its lower bound
  let offset = HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    const value = values[i] as number | null;
    if (value === null) {
      view.setInt32(offset, -1);
      offset += 4;
    } else {
      if (typeof value !== 'number') throw new TypeError(`element ${i} is not a number: ${String(value)}`);
      view.setInt32(offset, 8);
      view.setFloat64(offset + 4, value);
      offset += ELEMENT_BYTES;
    }
  }
  return new Uint8Array(bytes);
}
