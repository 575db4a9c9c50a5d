import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { createSourceKey, listSources, parseScopes, revokeSourceOrKey } from '../../auth/api-keys.js';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import type { Database } from '../../db/database.js';
import { InputError, NotFoundError } from '../../errors.js';

async function withDb<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = createDatabase({ url: config.databaseUrl, poolMax: 1, applicationName: 'survflow-sources' });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

export function registerSources(program: Command): void {
  const sources = program.command('sources').description('source systems and their API keys');

  sources
    .command('add')
    .description('create a source (or add a key to an existing one) and print its API key once')
    .argument('<name>', 'the source name: the `source` of every event sent with the key')
    .option('--scope <scopes>', 'comma-separated: ingest, query, admin', 'ingest')
    .action(async (name: string, options: { scope: string }) => {
      const scopes = parseScopes(options.scope);
      const created = await withDb((db) => createSourceKey(db, name, scopes));
      process.stderr.write(
        `source ${created.source}: key ${created.keyId} with scope ${created.scopes.join(',')}\n` +
          'the key is printed once, below; it is stored only as a hash and cannot be shown again\n',
      );
      process.stdout.write(`${created.key}\n`);
    });

  sources
    .command('list')
    .description('sources and their keys (ids and scopes, never the keys)')
    .action(async () => {
      const list = await withDb(listSources);
      if (list.length === 0) process.stdout.write('no sources\n');
      for (const s of list) {
        process.stdout.write(`${s.name}${s.revokedAt ? `  (revoked ${s.revokedAt.toISOString()})` : ''}\n`);
        for (const k of s.keys) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
          process.stdout.write(
            `  ${k.id}  ${k.scopes.join(',').padEnd(18)} created ${k.createdAt.toISOString()}  ${state}\n`,
          );
        }
      }
    });

  sources
    .command('revoke')
    .description('revoke a source (all its keys) by name, or one key by its id (sfk_...)')
    .argument('<name-or-key-id>')
    .action(async (target: string) => {
      const message = await withDb((db) => revokeSourceOrKey(db, target)).catch((error: unknown) => {
        throw error instanceof NotFoundError ? new InputError(error.message) : error;
      });
      process.stdout.write(`${message}\n`);
    });
}
