import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { createLogger } from '../../logger.js';
import { startWorkers } from '../../workers/runtime.js';

/** Resolves on the first SIGTERM / SIGINT. Installed first, so a signal during start-up counts. */
function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the queue workers until SIGTERM / SIGINT (graceful: in-flight jobs finish)')
    .action(async () => {
      const signal = shutdownSignal();
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
        idleTimeoutMs: config.databasePoolIdleMs,
        applicationName: 'survflow-worker',
      });
      try {
        const runtime = await startWorkers({ config, db, logger });
        logger.info({ signal: await signal }, 'shutting down: finishing in-flight jobs');
        // Order matters: stop taking work and drain (jobs still need the database), then the
        // Redis connection (inside runtime.close), then the database pool.
        await runtime.close();
      } finally {
        await db.destroy();
      }
      logger.info('stopped');
    });
}
