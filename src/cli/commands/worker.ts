import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { createLogger } from '../../logger.js';
import { startWorkers } from '../../workers/runtime.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the queue workers until SIGTERM / SIGINT (graceful: in-flight jobs finish)')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, undefined, { role: 'worker' });
      if (config.usesDevelopmentKeys) {
        logger.warn(
          'using the built-in development PSEUDONYM_KEY / REJECTED_BODY_KEY; set both in production',
        );
      }
      const db = createDatabase({
        url: config.databaseUrl,
        poolMax: config.databasePoolMax,
        applicationName: 'survflow-worker',
      });
      const runtime = await startWorkers({ config, db, logger });
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          logger.info({ signal }, 'shutting down: finishing in-flight jobs');
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      // Order matters: stop taking work and drain (jobs still need the database), then the
      // Redis connection, then the database pool.
      await runtime.close();
      await db.destroy();
      logger.info('stopped');
    });
}
