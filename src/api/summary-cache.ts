import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { NotFoundError } from '../errors.js';
import { loadRunSummary, type RunSummaryDocument } from '../summaries/load-run-summary.js';

/**
 * Published runs never change, so a run's summary document can be cached by run id for as long
 * as the process lives. "Latest" costs one small query (which run is latest?) per request; a new
 * publication changes the id and so misses the cache. A few runs are kept (latest + a few
 * looked up by id).
 */
export class SummaryCache {
  private readonly documents = new Map<string, RunSummaryDocument>();
  /** The serialized (validated) JSON of each cached document: serializing 20 KB per request costs more than the rest. */
  private readonly json = new WeakMap<RunSummaryDocument, string>();
  /** Which run is latest, remembered for `latestTtlMs`, so a burst of reads costs one query. */
  private latestId: { id: string; until: number } | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly capacity = 8,
    /**
     * Remember which run is latest for this long (ms); a new publication is served at most this
     * late. 0 (the default) asks the database on every request: one index lookup, and a
     * publication is visible at once.
     */
    private readonly latestTtlMs = 0,
  ) {}

  async latest(): Promise<RunSummaryDocument> {
    const now = Date.now();
    if (this.latestId && now < this.latestId.until) return this.byId(this.latestId.id);
    const latest = await this.db.selectFrom('latest_run').select('id').executeTakeFirst();
    if (!latest) throw new NotFoundError('no published run yet (POST /v1/recompute)');
    this.latestId = { id: latest.id, until: now + this.latestTtlMs };
    return this.byId(latest.id);
  }

  /** The document as JSON text, serialized once per run by `serialize` (which may validate). */
  jsonOf(document: RunSummaryDocument, serialize: (document: RunSummaryDocument) => string): string {
    let text = this.json.get(document);
    if (text === undefined) {
      text = serialize(document);
      this.json.set(document, text);
    }
    return text;
  }

  async byId(runId: string): Promise<RunSummaryDocument> {
    const cached = this.documents.get(runId);
    if (cached) return cached;
    const document = await loadRunSummary(this.db, runId);
    this.documents.set(runId, document);
    while (this.documents.size > this.capacity) {
      const oldest = this.documents.keys().next().value;
      if (oldest === undefined) break;
      this.documents.delete(oldest);
    }
    return document;
  }
}
