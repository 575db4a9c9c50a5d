import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { clinicalDate } from '../../contract/events.js';
import { createDatabase } from '../../db/connection.js';
import { InputError } from '../../errors.js';
import {
  createRecomputeQueue,
  enqueueRecompute,
  limitRecomputeToOneAtATime,
} from '../../jobs/recompute-queue.js';
import { createRedisConnection } from '../../jobs/redis.js';
import { effectiveCutoff } from '../../recompute/run-recompute.js';
import { databaseNow, waitForRun } from '../../recompute/wait-for-run.js';

type RecomputeOptions = { cutoff?: string; wait?: boolean; timeout: string; full?: boolean };

export function registerRecompute(program: Command): void {
  program
    .command('recompute')
    .description('ask for a recompute of the survival summaries now (coalesced with one already waiting)')
    .option('--cutoff <YYYY-MM-DD>', 'data cutoff (default: the run date)')
    .option(
      '--full',
      'derive every patient again, not only those with new events or facts near the cutoff (after a restore, or to check)',
    )
    .option('--wait', 'wait until the run is published and print its id (exit 1 if it fails)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', '3600')
    .action(async (options: RecomputeOptions) => {
      if (options.cutoff !== undefined && !clinicalDate.safeParse(options.cutoff).success) {
        throw new InputError(`--cutoff: expected a date YYYY-MM-DD, got ${options.cutoff}`);
      }
      const timeoutSeconds = Number(options.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
        throw new InputError(`--timeout: expected a positive number of seconds, got ${options.timeout}`);
      }
      const config = loadConfig();
      const connection = createRedisConnection(config.redisUrl, 'producer', 'survflow-recompute');
      const queue = createRecomputeQueue(config, connection);
      const db = options.wait
        ? createDatabase({ url: config.databaseUrl, poolMax: 1, applicationName: 'survflow-recompute' })
        : undefined;
      try {
        const requestedAt = db ? await databaseNow(db) : new Date();
        await limitRecomputeToOneAtATime(queue);
        const { jobId } = await enqueueRecompute(queue, {
          cutoff: options.cutoff,
          full: options.full,
          trigger: 'cli',
          requestedAt,
        });
        const cutoff = effectiveCutoff(config, options.cutoff);
        process.stderr.write(`recompute requested (job ${jobId ?? '?'}, cutoff ${cutoff})\n`);
        if (!db) return;

        const tty = process.stderr.isTTY === true;
        let lastLine = '';
        const started = Date.now();
        const outcome = await waitForRun(
          db,
          { requestedAt, cutoff },
          {
            timeoutMs: timeoutSeconds * 1000,
            onRun: (run) => {
              const line = `run ${run.id}: ${run.stage ?? run.status}`;
              if (line === lastLine) return;
              lastLine = line;
              const seconds = ((Date.now() - started) / 1000).toFixed(0);
              process.stderr.write(tty ? `\r\x1b[2K${line} (${seconds}s)` : `${line}\n`);
            },
          },
        );
        if (tty && lastLine) process.stderr.write('\n');
        if (outcome.status === 'published') {
          process.stdout.write(`${outcome.run.id}\n`);
          return;
        }
        if (outcome.status === 'failed') {
          process.stderr.write(
            `survflow: run ${outcome.run.id} failed: ${outcome.run.error ?? 'unknown error'}\n`,
          );
        } else {
          process.stderr.write(
            `survflow: no published run after ${timeoutSeconds}s${outcome.run ? ` (run ${outcome.run.id} is ${outcome.run.stage ?? outcome.run.status})` : ' (is a `survflow worker` running?)'}\n`,
          );
        }
        process.exitCode = 1;
      } finally {
        await queue.close();
        connection.disconnect();
        await db?.destroy();
      }
    });
}
