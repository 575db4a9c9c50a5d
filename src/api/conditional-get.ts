/**
 * Conditional GETs of published runs (RFC 9110 sections 8.8.3 and 13.1.2). A published run never
 * changes, so its id names each representation exactly: the ETag is the run id plus the format.
 * A client that revalidates with `If-None-Match` gets 304 without a body until another run is
 * published.
 */

/** The strong ETag of one representation of a published run. */
export function runEtag(runId: string, format: string): string {
  // Run ids are UUIDs; encoding keeps any id within the characters an entity tag may hold.
  return `"${encodeURIComponent(runId)}.${format}"`;
}

/**
 * Whether `If-None-Match` matches `etag` (weak comparison, as the standard prescribes for this
 * header): `*`, or one listed tag equal to it once a `W/` prefix is dropped.
 */
export function ifNoneMatchHits(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const values = Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const part of value.split(',')) {
      const tag = part.trim();
      if (tag === '*') return true;
      if ((tag.startsWith('W/') ? tag.slice(2) : tag) === etag) return true;
    }
  }
  return false;
}
