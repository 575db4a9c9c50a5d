import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiKey } from '../../src/auth/api-keys.js';
import { CLI_MAIN } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

const run = promisify(execFile);

describe('survflow sources add | list | revoke', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb?.close();
  });

  const survflow = (args: string[]) =>
    run(process.execPath, [CLI_MAIN, 'sources', ...args], {
      env: { ...process.env, DATABASE_URL: testDb.url, LOG_LEVEL: 'silent' },
    }).catch((error: { stdout: string; stderr: string; code: number }) => error);

  it('prints the key once, lists without it, revokes, and exits 2 on an unknown name', {
    timeout: 120_000,
  }, async () => {
    const added = (await survflow(['add', 'ris', '--scope', 'ingest,query'])) as {
      stdout: string;
      stderr: string;
    };
    const key = added.stdout.trim();
    expect(key).toMatch(/^sfk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(added.stderr).toMatch(/printed once/);
    const auth = await authenticateApiKey(testDb.db, key);
    expect(auth).toMatchObject({ ok: true, principal: { source: 'ris', scopes: ['ingest', 'query'] } });

    const listed = (await survflow(['list'])) as { stdout: string };
    expect(listed.stdout).toContain(key.slice(0, 16));
    expect(listed.stdout).not.toContain(key);

    expect(((await survflow(['revoke', 'ris'])) as { stdout: string }).stdout).toMatch(
      /revoked source ris \(1 key\)/,
    );
    expect(await authenticateApiKey(testDb.db, key)).toEqual({ ok: false, reason: 'revoked key' });
    const unknown = (await survflow(['revoke', 'nobody'])) as { code?: number; stderr: string };
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no source named nobody/);
  });
});
