/**
 * A recompute in a process of its own that hangs just before publication, for the test that
 * kills it (SIGKILL) mid-run. Reads DATABASE_URL from the environment like the CLI.
 */
import { loadConfig } from '../../src/config.js';
import { createDatabase } from '../../src/db/connection.js';
import { createLogger } from '../../src/logger.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';

const config = loadConfig();
const db = createDatabase({ url: config.databaseUrl, poolMax: 3 });
await runRecompute(
  db,
  config,
  { cutoff: process.argv[2], trigger: 'test' },
  {
    logger: createLogger('silent'),
    beforePublish: async () => {
      process.stdout.write('ready-to-publish\n');
      await new Promise(() => {});
    },
  },
);
