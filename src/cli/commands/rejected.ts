import { type Command, Option } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { listRejected, type RejectedRow, retryRejected, showRejected } from '../../ingest/rejected.js';
import { createIngestQueue } from '../../jobs/queues.js';
import { createRedisConnection } from '../../jobs/redis.js';

const reasonsText = (row: RejectedRow) => row.reasons.map((r) => `${r.path}: ${r.message}`).join('; ');

/** `survflow rejected list|show|retry`: operators' repair loop for rejected inputs. */
export function registerRejected(program: Command): void {
  const rejected = program
    .command('rejected')
    .description('list, show (decrypted) and retry rejected inputs');

  rejected
    .command('list')
    .description('rejected inputs: id, received, source, event id, kind, reasons (tab-separated)')
    .option('--since <date>', 'received at or after this date / timestamp')
    .addOption(new Option('--kind <kind>', 'invalid or conflict').choices(['invalid', 'conflict']))
    .option('--unresolved', 'only those no retry has resolved yet')
    .option('--limit <n>', 'at most this many rows', '1000')
    .action(
      async (options: {
        since?: string;
        kind?: 'invalid' | 'conflict';
        unresolved?: boolean;
        limit: string;
      }) => {
        const config = loadConfig();
        const db = createDatabase({
          url: config.databaseUrl,
          poolMax: 1,
          applicationName: 'survflow-rejected',
        });
        try {
          const rows = await listRejected(db, { ...options, limit: Number(options.limit) || 1000 });
          process.stdout.write('id\treceived\tsource\tevent id\tkind\tresolved\treasons\n');
          for (const row of rows) {
            process.stdout.write(
              `${[
                row.id,
                row.receivedAt.toISOString(),
                row.source ?? '-',
                row.eventId ?? '-',
                row.kind,
                row.resolvedAt ? row.resolvedAt.toISOString() : '-',
                reasonsText(row),
              ].join('\t')}\n`,
            );
          }
        } finally {
          await db.destroy();
        }
      },
    );

  rejected
    .command('show')
    .description('one rejected input: its reasons and its raw body, decrypted (it can carry an MRN)')
    .argument('<id>')
    .action(async (id: string) => {
      const config = loadConfig();
      const db = createDatabase({
        url: config.databaseUrl,
        poolMax: 1,
        applicationName: 'survflow-rejected',
      });
      try {
        const row = await showRejected(db, config.rejectedBodyKey, id);
        process.stdout.write(
          [
            `id        ${row.id}`,
            `received  ${row.receivedAt.toISOString()}`,
            `submission ${row.submissionId}${row.line === null ? '' : ` line ${row.line}`}`,
            `source    ${row.source ?? '-'}`,
            `event id  ${row.eventId ?? '-'}`,
            `kind      ${row.kind}`,
            `resolved  ${row.resolvedAt ? row.resolvedAt.toISOString() : 'no'}`,
            'reasons:',
            ...row.reasons.map((r) => `  ${r.path}: ${r.message}`),
            'raw body:',
            row.raw,
            '',
          ].join('\n'),
        );
      } finally {
        await db.destroy();
      }
    });

  rejected
    .command('retry')
    .description(
      're-send the raw bodies as a new submission (channel retry); an input is marked resolved when its retry is accepted or duplicate',
    )
    .argument('<ids...>')
    .option('--timeout <seconds>', 'wait this long for the account', '300')
    .action(async (ids: string[], options: { timeout: string }) => {
      const config = loadConfig();
      const db = createDatabase({
        url: config.databaseUrl,
        poolMax: 2,
        applicationName: 'survflow-rejected',
      });
      const redis = createRedisConnection(config.redisUrl, 'producer', 'survflow-rejected');
      const queue = createIngestQueue(config, redis);
      try {
        const result = await retryRejected(
          db,
          queue,
          {
            rejectedBodyKey: config.rejectedBodyKey,
            timeoutMs: (Number(options.timeout) || 300) * 1000,
            backpressure: { maxPendingBatches: config.ingest.maxPendingBatches },
          },
          ids,
        );
        const a = result.account;
        process.stdout.write(
          `retry submission ${result.submissionId} (${result.outcome}): accepted ${a.accepted}, duplicate ${a.duplicate}, rejected ${a.rejected}\n` +
            `resolved: ${result.resolved.join(' ') || '-'}\nstill unresolved: ${result.unresolved.join(' ') || '-'}\n`,
        );
        if (result.outcome !== 'complete') process.exitCode = 1;
      } finally {
        await queue.close();
        await redis.quit().catch(() => redis.disconnect());
        await db.destroy();
      }
    });
}
