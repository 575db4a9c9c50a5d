import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticateApiKey,
  createSourceKey,
  listSources,
  parseScopes,
  revokeSourceOrKey,
} from '../../src/auth/api-keys.js';
import { InputError, NotFoundError } from '../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

describe('API keys', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it('stores only a hash and the public prefix; authenticates the key and nothing else', async () => {
    const created = await createSourceKey(testDb.db, 'ris', ['ingest', 'query']);
    expect(created.key.startsWith(`${created.keyId}_`)).toBe(true);
    const row = await testDb.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', created.keyId)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(created.key.slice(created.keyId.length + 1));
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await authenticateApiKey(testDb.db, created.key)).toEqual({
      ok: true,
      principal: { keyId: created.keyId, source: 'ris', scopes: ['ingest', 'query'] },
    });
    const tampered = `${created.key.slice(0, -1)}${created.key.endsWith('A') ? 'B' : 'A'}`;
    expect(await authenticateApiKey(testDb.db, tampered)).toEqual({ ok: false, reason: 'unknown key' });
    expect(await authenticateApiKey(testDb.db, 'Bearer')).toEqual({ ok: false, reason: 'malformed key' });
  });

  it('revokes one key by id or a whole source by name; lists without secrets', async () => {
    const a = await createSourceKey(testDb.db, 'clinic', ['ingest']);
    const b = await createSourceKey(testDb.db, 'clinic', ['query']);
    expect(await revokeSourceOrKey(testDb.db, a.keyId)).toBe(`revoked key ${a.keyId}`);
    expect(await authenticateApiKey(testDb.db, a.key)).toEqual({ ok: false, reason: 'revoked key' });
    expect((await authenticateApiKey(testDb.db, b.key)).ok).toBe(true);
    expect(await revokeSourceOrKey(testDb.db, 'clinic')).toBe('revoked source clinic (1 key)');
    expect(await authenticateApiKey(testDb.db, b.key)).toEqual({ ok: false, reason: 'revoked key' });
    const listing = await listSources(testDb.db);
    const clinic = listing.find((s) => s.name === 'clinic');
    expect(clinic?.revokedAt).not.toBeNull();
    expect(clinic?.keys.map((k) => k.id)).toEqual([a.keyId, b.keyId]);
    expect(JSON.stringify(listing)).not.toContain(b.key);
    await expect(revokeSourceOrKey(testDb.db, 'nobody')).rejects.toThrow(NotFoundError);
    // A new key re-activates the source.
    const c = await createSourceKey(testDb.db, 'clinic', ['ingest']);
    expect((await authenticateApiKey(testDb.db, c.key)).ok).toBe(true);
  });

  it('validates source names and scopes', async () => {
    await expect(createSourceKey(testDb.db, 'bad name!', ['ingest'])).rejects.toThrow(InputError);
    expect(parseScopes('ingest, query,ingest')).toEqual(['ingest', 'query']);
    expect(() => parseScopes('ingest,root')).toThrow(/unknown scope "root"/);
    expect(() => parseScopes('')).toThrow(InputError);
  });
});
