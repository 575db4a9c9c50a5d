import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { ensureDatabaseExists, migrateToLatest } from '../../db/migrate.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('create the database if needed and bring its schema to the latest migration')
    .action(async () => {
      const config = loadConfig();
      if (await ensureDatabaseExists(config.databaseUrl)) process.stdout.write('created database\n');
      const db = createDatabase({ url: config.databaseUrl, poolMax: 1, applicationName: 'survflow-migrate' });
      try {
        const results = await migrateToLatest(db);
        for (const r of results)
          process.stdout.write(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}\n`);
        process.stdout.write(results.length ? 'schema is up to date\n' : 'schema was already up to date\n');
      } finally {
        await db.destroy();
      }
    });
}
