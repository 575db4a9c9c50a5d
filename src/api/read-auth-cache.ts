import { createHash } from 'node:crypto';
import type { AuthenticationResult, Principal } from '../auth/api-keys.js';

export type ReadAuthCacheOptions = {
  /** How long a successful lookup may be relied on: the longest a revoked key keeps reading. */
  ttlMs?: number;
  /** From this age on, a hit still answers at once but refreshes the entry in the background. */
  refreshAfterMs?: number;
  maxEntries?: number;
  now?: () => number;
  /** A background refresh failed (database down): the entry stays usable until its ttl. */
  onRefreshError?: (error: unknown) => void;
};

type Entry = { principal: Principal; lookedUpAt: number };

/**
 * Successful API-key authentications of read routes, remembered per process (by the SHA-256 of
 * the key, never the key), so a client reading at 1,000 requests/s costs the database one key
 * lookup every few seconds instead of one per request. Refusals are never cached.
 *
 * The bound on revocation: an entry is used for at most `ttlMs` after the START of the lookup
 * that produced it, so a key revoked at time T is refused by every request after T + ttlMs (and
 * usually sooner: see the refresh below).
 *
 * Without help, every entry of a busy key would expire under load and all its requests in flight
 * at that moment would wait for PostgreSQL together (measured: the recurring latency spikes of
 * the query bench, every 5 s). So concurrent lookups of one key share a single query, and an
 * entry older than `refreshAfterMs` is refreshed in the background while it still answers: a
 * steadily used key is looked up about every `refreshAfterMs` and never waits; a refresh that
 * finds the key revoked drops the entry at once.
 */
export class ReadAuthCache {
  private readonly entries = new Map<string, Entry>();
  private readonly lookups = new Map<string, Promise<AuthenticationResult>>();
  private readonly ttlMs: number;
  private readonly refreshAfterMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly authenticate: (key: string) => Promise<AuthenticationResult>,
    private readonly options: ReadAuthCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.refreshAfterMs = Math.min(options.refreshAfterMs ?? 4_000, this.ttlMs);
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  check(key: string): Promise<AuthenticationResult> {
    const digest = createHash('sha256').update(key).digest('base64');
    const entry = this.entries.get(digest);
    if (entry) {
      const age = this.now() - entry.lookedUpAt;
      if (age < this.ttlMs) {
        if (age >= this.refreshAfterMs && !this.lookups.has(digest)) {
          this.lookUp(digest, key).catch((error: unknown) => this.options.onRefreshError?.(error));
        }
        return Promise.resolve({ ok: true, principal: entry.principal });
      }
    }
    return this.lookUp(digest, key);
  }

  private lookUp(digest: string, key: string): Promise<AuthenticationResult> {
    const pending = this.lookups.get(digest);
    if (pending) return pending;
    const lookedUpAt = this.now();
    const lookup = this.authenticate(key)
      .then((result) => {
        if (result.ok) {
          if (this.entries.size >= this.maxEntries && !this.entries.has(digest)) this.entries.clear();
          this.entries.set(digest, { principal: result.principal, lookedUpAt });
        } else {
          this.entries.delete(digest);
        }
        return result;
      })
      .finally(() => {
        this.lookups.delete(digest);
      });
    this.lookups.set(digest, lookup);
    return lookup;
  }
}
