import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { NotFoundError } from '../errors.js';
import { loadRunSummary, type RunSummaryDocument } from '../summaries/load-run-summary.js';

/** Which run is latest (a `LatestRunTracker`, or a plain query in tests). */
export type LatestRunSource = { latestId: () => Promise<string | null> };

export type SummaryFormat = 'json' | 'csv';

/**
 * Published runs never change, so a run's summary document, and each of its encoded
 * representations, can be cached by run id for as long as the process lives. "Which run is
 * latest" comes from `latestRun` (cached until the next publication's notification); a new
 * publication changes the id and so misses the cache. A few runs are kept, least recently used
 * evicted first (the latest, read all the time, stays).
 */
export class SummaryCache {
  /** Promises, so the burst of requests right after a publication loads the new run once. */
  private readonly documents = new Map<string, Promise<RunSummaryDocument>>();
  /**
   * The encoded bytes of each cached document per format: serializing ~20 KB and encoding it to
   * UTF-8 per request costs more than all the rest of the request.
   */
  private readonly encoded = new WeakMap<RunSummaryDocument, Map<SummaryFormat, Buffer>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly latestRun: LatestRunSource,
    private readonly capacity = 8,
  ) {}

  async latest(): Promise<RunSummaryDocument> {
    const id = await this.latestRun.latestId();
    if (id === null) throw new NotFoundError('no published run yet (POST /v1/recompute)');
    return this.byId(id);
  }

  /** The document encoded as `format`, produced once per run by `encode` (which may validate). */
  encodedAs(
    document: RunSummaryDocument,
    format: SummaryFormat,
    encode: (document: RunSummaryDocument) => string,
  ): Buffer {
    let byFormat = this.encoded.get(document);
    if (!byFormat) {
      byFormat = new Map();
      this.encoded.set(document, byFormat);
    }
    let bytes = byFormat.get(format);
    if (bytes === undefined) {
      bytes = Buffer.from(encode(document), 'utf8');
      byFormat.set(format, bytes);
    }
    return bytes;
  }

  byId(runId: string): Promise<RunSummaryDocument> {
    const cached = this.documents.get(runId);
    if (cached) {
      // Least recently used goes first: the hot latest run is never the one evicted.
      this.documents.delete(runId);
      this.documents.set(runId, cached);
      return cached;
    }
    const loading = loadRunSummary(this.db, runId);
    this.documents.set(runId, loading);
    loading.then(
      () => this.evictBeyondCapacity(),
      // A failed load (no such published run, database down) is not remembered: the next
      // request retries. The caller gets the rejection from the promise returned below.
      () => {
        if (this.documents.get(runId) === loading) this.documents.delete(runId);
      },
    );
    return loading;
  }

  private evictBeyondCapacity(): void {
    while (this.documents.size > this.capacity) {
      const oldest = this.documents.keys().next().value;
      if (oldest === undefined) break;
      this.documents.delete(oldest);
    }
  }
}
