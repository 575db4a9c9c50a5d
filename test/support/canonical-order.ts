/**
 * Rows in one canonical order (by their JSON text), for comparing collections that come in no
 * particular order (patient combinations) as sets.
 */
export function canonicalOrder<T>(rows: readonly T[]): T[] {
  return rows
    .map((row) => ({ row, key: JSON.stringify(row) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ row }) => row);
}
