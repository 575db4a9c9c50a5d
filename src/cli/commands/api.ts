import type { Command } from 'commander';
import { startApi } from '../../api/start.js';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../logger.js';

export function registerApi(program: Command): void {
  program
    .command('api')
    .description('run the HTTP intake and query API on PORT until SIGTERM / SIGINT (graceful)')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, undefined, { role: 'api' });
      const api = await startApi(config, logger);
      logger.info(
        { port: config.http.port, host: config.http.host },
        'API listening (OpenAPI at /openapi.json, UI at /docs)',
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          logger.info({ signal }, 'shutting down: finishing in-flight requests');
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      await api.close();
      logger.info('stopped');
    });
}
