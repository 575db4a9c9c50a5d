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

  constructor(
    private readonly db: Kysely<Database>,
    private readonly capacity = 8,
  ) {}

  async latest(): Promise<RunSummaryDocument> {
    const latest = await this.db.selectFrom('latest_run').select('id').executeTakeFirst();
    if (!latest) throw new NotFoundError('no published run yet (POST /v1/recompute)');
    return this.byId(latest.id);
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
