import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, databaseOnPool } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { writeIngestBatch } from '../../src/ingest/write-batch.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

/**
 * Least privilege: every connection of these pools runs as the role (`SET ROLE`, from the
 * owner's session, which is how a test can take a NOLOGIN role's privileges exactly).
 */
function asRole(url: string, role: 'survflow_worker' | 'survflow_api'): Kysely<Database> {
  const pool = createPool({ url, poolMax: 2, applicationName: `survflow-test-${role}` });
  pool.on('connect', (client) => {
    client.query(`set role ${role}`).catch(() => {});
  });
  return databaseOnPool(pool);
}

let testDb: TestDatabase;
let worker: Kysely<Database>;
let api: Kysely<Database>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  worker = asRole(testDb.url, 'survflow_worker');
  api = asRole(testDb.url, 'survflow_api');
});
afterAll(async () => {
  await worker?.destroy();
  await api?.destroy();
  await testDb?.close();
});

const line = (eventId: string) =>
  JSON.stringify({
    eventId,
    source: 'roles',
    type: 'followup.contact',
    schemaVersion: 1,
    patientId: 'ROLE-MRN-1',
    occurredOn: '2021-01-01',
    payload: { vitalStatus: 'alive' },
  });

describe('database roles', () => {
  it('the roles exist and cannot log in by default', async () => {
    const { rows } = await sql<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean }>`
      select rolname, rolcanlogin, rolsuper from pg_roles
      where rolname in ('survflow_worker', 'survflow_api') order by rolname`.execute(testDb.db);
    expect(rows).toEqual([
      { rolname: 'survflow_api', rolcanlogin: false, rolsuper: false },
      { rolname: 'survflow_worker', rolcanlogin: false, rolsuper: false },
    ]);
  });

  it('ingest works as survflow_worker (submission, batch, ledger, rejections, account)', async () => {
    const who = await sql<{ user: string }>`select current_user as user`.execute(worker);
    expect(who.rows[0]?.user).toBe('survflow_worker');
    await worker
      .insertInto('ingest_submissions')
      .values({ id: 'roles-1', channel: 'cli', source: null })
      .execute();
    const account = await writeIngestBatch(
      worker,
      { pseudonymKey: 'roles-test-pseudonym-key', rejectedBodyKey: Buffer.alloc(32, 1) },
      {
        submissionId: 'roles-1',
        batchIndex: 0,
        source: null,
        items: [line('r-1'), line('r-2'), 'not json'].map((raw, i) => ({ line: i + 1, raw })),
      },
    );
    expect(account).toMatchObject({ accepted: 2, rejected: 1 });
    await worker
      .updateTable('ingest_submissions')
      .set({ batch_count: 1, event_count: 3, sealed_at: new Date() })
      .where('id', '=', 'roles-1')
      .execute();
  });

  for (const role of ['survflow_worker', 'survflow_api'] as const) {
    it(`${role} cannot delete or rewrite ledger rows`, async () => {
      const db = role === 'survflow_worker' ? worker : api;
      await expect(sql`delete from events`.execute(db)).rejects.toThrow(/permission denied for table events/);
      await expect(sql`update events set patient_key = 'x'`.execute(db)).rejects.toThrow(
        /permission denied for table events/,
      );
      await expect(sql`truncate events`.execute(db)).rejects.toThrow(/permission denied for table events/);
      await expect(sql`delete from rejected_events`.execute(db)).rejects.toThrow(/permission denied/);
      await expect(sql`delete from ingest_batches`.execute(db)).rejects.toThrow(/permission denied/);
      await expect(sql`drop table events`.execute(db)).rejects.toThrow(/must be owner/);
      if (role === 'survflow_api') {
        await expect(
          sql`insert into events (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
          values ('x', 'x', 'x', 1, 'x', '2020-01-01', '{}', 'x', 'x')`.execute(db),
        ).rejects.toThrow(/permission denied/);
      }
      const count = await sql<{ n: number }>`select count(*)::int as n from events`.execute(db);
      expect(count.rows[0]?.n).toBe(2);
    });
  }
});
