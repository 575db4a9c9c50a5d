import { describe, expect, it } from 'vitest';
import { ReadAuthCache } from '../../src/api/read-auth-cache.js';
import type { AuthenticationResult } from '../../src/auth/api-keys.js';

const granted: AuthenticationResult = {
  ok: true,
  principal: { keyId: 'sfk_000000000001', source: 'analyst', scopes: ['query'] },
};
const revoked: AuthenticationResult = { ok: false, reason: 'revoked key' };

/** A key store whose answers the test sets, counting lookups; lookups resolve when released. */
function keyStore() {
  const store = {
    answer: granted as AuthenticationResult,
    failure: undefined as Error | undefined,
    calls: 0,
    pending: [] as (() => void)[],
    /** Answers every lookup started so far. */
    release: async () => {
      for (const resolve of store.pending.splice(0)) resolve();
      await new Promise((resolve) => setImmediate(resolve));
    },
    authenticate: (_key: string) => {
      store.calls++;
      const { answer, failure } = store;
      return new Promise<AuthenticationResult>((resolve, reject) => {
        store.pending.push(() => (failure ? reject(failure) : resolve(answer)));
      });
    },
  };
  return store;
}

function setup(options: { ttlMs?: number; refreshAfterMs?: number } = {}) {
  const store = keyStore();
  const clock = { now: 1_000_000 };
  const refreshErrors: unknown[] = [];
  const cache = new ReadAuthCache(store.authenticate, {
    ttlMs: 5_000,
    refreshAfterMs: 4_000,
    ...options,
    now: () => clock.now,
    onRefreshError: (error) => refreshErrors.push(error),
  });
  return { store, clock, cache, refreshErrors };
}

describe('ReadAuthCache: read-route authentications, bounded by a ttl, refreshed ahead of it', () => {
  it('concurrent first requests with one key share one lookup', async () => {
    const { store, cache } = setup();
    const checks = Array.from({ length: 20 }, () => cache.check('key-a'));
    await store.release();
    expect(await Promise.all(checks)).toEqual(Array.from({ length: 20 }, () => granted));
    expect(store.calls).toBe(1);
  });

  it('answers from memory, refreshes in the background after refreshAfterMs, never making a request wait', async () => {
    const { store, clock, cache } = setup();
    const first = cache.check('key-a');
    await store.release();
    await first;
    clock.now += 3_999;
    expect(await cache.check('key-a')).toEqual(granted);
    expect(store.calls).toBe(1);
    clock.now += 1; // 4 s old: still served at once, and one refresh starts
    expect(await cache.check('key-a')).toEqual(granted);
    expect(await cache.check('key-a')).toEqual(granted);
    expect(store.calls).toBe(2);
    await store.release();
    clock.now += 4_500; // 4.5 s after the refresh started: still within its ttl
    expect(await cache.check('key-a')).toEqual(granted);
    expect(store.calls).toBe(3); // ... and old enough for the next refresh
  });

  it('a refresh that finds the key revoked refuses it from then on', async () => {
    const { store, clock, cache } = setup();
    const first = cache.check('key-a');
    await store.release();
    await first;
    store.answer = revoked;
    clock.now += 4_000;
    expect(await cache.check('key-a')).toEqual(granted); // served while the refresh runs
    await store.release();
    const after = cache.check('key-a');
    await store.release();
    expect(await after).toEqual(revoked);
  });

  it('never relies on a lookup for more than ttlMs after it started, even if its refresh hangs', async () => {
    const { store, clock, cache } = setup();
    const first = cache.check('key-a');
    clock.now += 1_000; // the lookup took 1 s: the entry counts from its start
    await store.release();
    await first;
    store.answer = revoked;
    clock.now += 3_000; // 4 s after the lookup started: refresh starts, does not answer yet
    expect(await cache.check('key-a')).toEqual(granted);
    clock.now += 1_000; // 5 s: the entry is no longer used; the request waits for the lookup
    let settled = false;
    const late = cache.check('key-a').then((result) => {
      settled = true;
      return result;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    await store.release();
    expect(await late).toEqual(revoked);
    expect(store.calls).toBe(2); // the waiting request shared the refresh in flight
  });

  it('never caches a refusal', async () => {
    const { store, cache } = setup();
    store.answer = { ok: false, reason: 'unknown key' };
    for (let i = 0; i < 3; i++) {
      const check = cache.check('key-x');
      await store.release();
      expect((await check).ok).toBe(false);
    }
    expect(store.calls).toBe(3);
  });

  it('a failed background refresh is reported and keeps the entry until its ttl; then requests see the failure', async () => {
    const { store, clock, cache, refreshErrors } = setup();
    const first = cache.check('key-a');
    await store.release();
    await first;
    store.failure = new Error('database down');
    clock.now += 4_000;
    expect(await cache.check('key-a')).toEqual(granted);
    await store.release();
    expect(refreshErrors).toEqual([store.failure]);
    clock.now += 500;
    expect(await cache.check('key-a')).toEqual(granted); // refresh again, still within the ttl
    await store.release();
    clock.now += 500; // 5 s: expired
    const expired = expect(cache.check('key-a')).rejects.toThrow('database down');
    await store.release();
    await expired;
  });

  it('keys are kept apart', async () => {
    const { store, cache } = setup();
    const a = cache.check('key-a');
    await store.release();
    await a;
    store.answer = { ok: false, reason: 'unknown key' };
    const b = cache.check('key-b');
    await store.release();
    expect((await b).ok).toBe(false);
    expect(await cache.check('key-a')).toEqual(granted);
  });
});
