import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { InputError, RecomputeBusyError } from '../../errors.js';
import { pruneHistory } from '../../recompute/prune-history.js';

type PruneOptions = { olderThan: string; dryRun?: boolean };

const DAY_MS = 86_400_000;

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description(
      'delete recompute runs started more than N days ago (never the latest published run) and the patient-fact versions only they could see',
    )
    .requiredOption('--older-than <days>', 'delete runs started more than this many days ago')
    .option('--dry-run', 'print what would be deleted and delete nothing')
    .action(async (options: PruneOptions) => {
      const days = Number(options.olderThan);
      if (!Number.isInteger(days) || days < 0) {
        throw new InputError(`--older-than: expected a whole number of days, got ${options.olderThan}`);
      }
      const config = loadConfig();
      // Two connections: the recompute lock's and the transaction's.
      const db = createDatabase({ url: config.databaseUrl, poolMax: 2, applicationName: 'survflow-prune' });
      try {
        const startedBefore = new Date(Date.now() - days * DAY_MS);
        const outcome = await pruneHistory(db, { startedBefore, dryRun: options.dryRun === true });
        const verb = outcome.dryRun ? 'would delete' : 'deleted';
        process.stdout.write(
          `${verb} ${outcome.runs} runs started before ${startedBefore.toISOString()} and ` +
            `${outcome.versions} patient-fact versions no remaining run can see; ${outcome.keptRuns} runs kept\n`,
        );
        if (!outcome.dryRun && outcome.versions > 0) {
          process.stderr.write(
            'autovacuum returns the space to PostgreSQL; VACUUM patient_facts does it now\n',
          );
        }
      } catch (error) {
        if (!(error instanceof RecomputeBusyError)) throw error;
        process.stderr.write(`survflow: ${error.message}\n`);
        process.exitCode = 1;
      } finally {
        await db.destroy();
      }
    });
}
