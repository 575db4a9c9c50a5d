import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../db/database.js';
import { SurvflowError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RUN_PUBLISHED_CHANNEL } from '../recompute/run-store.js';

/** The dedicated LISTEN connection failed, ended, or stopped answering. */
export class LatestRunListenerError extends SurvflowError {
  override name = 'LatestRunListenerError';
}

export type LatestRunTrackerOptions = {
  /** The database whose publications are followed (NOTIFY reaches listeners of the same database only). */
  databaseUrl: string;
  /** Reads `latest_run` (through the pool): the source of truth, asked whenever the cache cannot be trusted. */
  readLatestId: () => Promise<string | null>;
  logger: Logger;
  /** First delay before reconnecting a failed listener; doubles on each failure up to maxReconnectDelayMs. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /**
   * How often the listening connection itself re-reads `latest_run`. A connection that silently
   * stopped delivering (a dead peer TCP has not noticed yet) fails this query and is replaced;
   * a notification that was somehow missed is repaired. Bounds staleness in those cases.
   */
  verifyIntervalMs?: number;
};

type TrackerEvents = {
  /** LISTEN is active; the cache is in use from now on. */
  listening: [];
  /** A publication's NOTIFY arrived (payload: the run id) and the cached id was dropped. */
  published: [runId: string];
  /** The listener is gone; every request asks the database until it is back. */
  disconnected: [error: LatestRunListenerError];
  /** A periodic verification finished (`repaired`: the cache was wrong and has been dropped). */
  verified: [repaired: boolean];
};

/** The read-only state of `latestId()`'s cache, for metrics and tests. */
export type LatestRunTrackerState = { listening: boolean; cached: boolean };

/**
 * Which published run is latest, without a database round trip per request.
 *
 * `publishRun` sends `pg_notify(RUN_PUBLISHED_CHANNEL, runId)` inside its transaction, so the
 * notification exists if and only if the publication committed, and PostgreSQL delivers it after
 * the commit is visible to new snapshots. This process holds ONE dedicated connection that
 * LISTENs; while it listens, the latest id is read once and cached until the next notification.
 * Correctness never depends on the notification arriving:
 *
 * - while the listener is not connected (starting, failed, reconnecting), every call queries
 *   `latest_run`, exactly as without the cache;
 * - on (re)connection, LISTEN comes first and the cache is dropped afterwards, so a publication
 *   committed before LISTEN took effect is read by the next query and any later one is notified;
 * - a lookup started before a notification never fills the cache for after it (generations).
 *
 * The guarantee for readers: a publication is served by this process as soon as its NOTIFY has
 * been received (on loopback, well under a millisecond after the commit); a request arriving
 * between the commit and that moment may still get the previous run, which was the latest a
 * moment before.
 */
export class LatestRunTracker extends EventEmitter<TrackerEvents> {
  private readonly reconnectDelayMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly verifyIntervalMs: number;
  private client: pg.Client | undefined;
  private listening = false;
  private closed = false;
  /** Bumped whenever the cached id may be out of date (notification, connect, disconnect). */
  private generation = 0;
  private cached: { generation: number; id: string | null } | undefined;
  /** The one lookup in flight for the current generation: a burst after a publication costs one query. */
  private lookup: { generation: number; promise: Promise<string | null> } | undefined;
  private nextReconnectDelayMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private verifyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LatestRunTrackerOptions) {
    super();
    this.reconnectDelayMs = options.reconnectDelayMs ?? 250;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5_000;
    this.verifyIntervalMs = options.verifyIntervalMs ?? 30_000;
    this.nextReconnectDelayMs = this.reconnectDelayMs;
  }

  get state(): LatestRunTrackerState {
    return { listening: this.listening, cached: this.cached?.generation === this.generation };
  }

  /** Opens the listening connection in the background; until it listens, `latestId()` queries. */
  start(): void {
    void this.connect();
  }

  /** The latest published run's id, or null before the first publication. */
  latestId(): Promise<string | null> {
    if (!this.listening) return this.options.readLatestId();
    const generation = this.generation;
    if (this.cached?.generation === generation) return Promise.resolve(this.cached.id);
    if (this.lookup?.generation === generation) return this.lookup.promise;
    const promise = this.options.readLatestId().then(
      (id) => {
        if (this.listening && this.generation === generation) this.cached = { generation, id };
        this.lookup = undefined;
        return id;
      },
      (error: unknown) => {
        this.lookup = undefined;
        throw error;
      },
    );
    this.lookup = { generation, promise };
    return promise;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.verifyTimer);
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    this.invalidate();
    await client?.end();
  }

  private invalidate(): void {
    this.generation++;
    this.cached = undefined;
    this.lookup = undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let client: pg.Client;
    try {
      client = new pg.Client({
        connectionString: this.options.databaseUrl,
        application_name: 'survflow-api-listen',
        keepAlive: true,
        connectionTimeoutMillis: 10_000,
        // Bounds LISTEN and the verification query: an unanswered one means a dead connection.
        query_timeout: 10_000,
      });
    } catch (error) {
      this.retryLater(new LatestRunListenerError('cannot create the latest-run listener', { cause: error }));
      return;
    }
    this.client = client;
    // A connection lost later emits 'error' and/or 'end' on the client: without these handlers
    // the process would crash. They stay attached after the client is replaced (then ignored).
    client.on('error', (error) => this.lose(client, error));
    client.on('end', () => this.lose(client, new Error('the connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== RUN_PUBLISHED_CHANNEL || this.client !== client) return;
      this.invalidate();
      this.emit('published', message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`listen ${RUN_PUBLISHED_CHANNEL}`);
    } catch (error) {
      this.lose(client, error);
      return;
    }
    if (this.client !== client) return; // closed, or lost while connecting
    this.nextReconnectDelayMs = this.reconnectDelayMs;
    // Publications committed before LISTEN took effect were notified to nobody here.
    this.invalidate();
    this.listening = true;
    this.verifyTimer = setInterval(() => void this.verify(client), this.verifyIntervalMs);
    this.verifyTimer.unref();
    this.options.logger.debug(
      'latest-run listener connected: caching the latest run until the next publication',
    );
    this.emit('listening');
  }

  private lose(client: pg.Client, cause: unknown): void {
    if (this.client !== client) return; // already handled (error then end), or superseded
    this.client = undefined;
    this.listening = false;
    clearInterval(this.verifyTimer);
    this.invalidate();
    const error = new LatestRunListenerError('the latest-run listener lost its database connection', {
      cause,
    });
    // The client is unusable; ending it only releases the socket. A failure to end it changes
    // nothing (its error handler above stays attached), so it is logged and not rethrown.
    client.end().catch((endError: unknown) => {
      this.options.logger.debug({ err: endError }, 'closing a failed latest-run listener connection failed');
    });
    this.retryLater(error);
  }

  private retryLater(error: LatestRunListenerError): void {
    if (this.closed) return;
    const delay = this.nextReconnectDelayMs;
    this.nextReconnectDelayMs = Math.min(delay * 2, this.maxReconnectDelayMs);
    this.options.logger.warn(
      { err: error, reconnectInMs: delay },
      'latest-run listener disconnected: reading the latest run from the database on every request until it reconnects',
    );
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
    this.emit('disconnected', error);
  }

  private async verify(client: pg.Client): Promise<void> {
    const generation = this.generation;
    let id: string | null;
    try {
      const result = await client.query<{ id: string }>('select id from latest_run');
      id = result.rows[0]?.id ?? null;
    } catch (error) {
      this.lose(client, error);
      return;
    }
    const stale =
      this.client === client &&
      this.generation === generation &&
      this.cached?.generation === generation &&
      this.cached.id !== id;
    if (stale) {
      this.options.logger.warn(
        { cached: this.cached?.id, latest: id },
        'latest-run cache was out of date without a notification; dropped it',
      );
      this.invalidate();
    }
    this.emit('verified', stale);
  }
}

/** The id of the latest published run (view `latest_run`), or null before the first one. */
export async function readLatestRunId(db: Kysely<Database>): Promise<string | null> {
  const row = await db.selectFrom('latest_run').select('id').executeTakeFirst();
  return row?.id ?? null;
}
