import { stat } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../../config.js';
import { readCsvItems } from '../../csv/read-csv-files.js';
import { createDatabase } from '../../db/connection.js';
import { InputError } from '../../errors.js';
import { readFhirItems } from '../../fhir/read-fhir-files.js';
import { assertReadable, type FileSpan, readNdjsonItems } from '../../ingest/read-ndjson.js';
import {
  enqueueBatch,
  openSubmission,
  type SubmissionAccount,
  sealSubmission,
  waitForSubmission,
} from '../../ingest/submission.js';
import type { IngestItem } from '../../jobs/contracts.js';
import { createIngestQueue } from '../../jobs/queues.js';
import { createRedisConnection } from '../../jobs/redis.js';
import { createLogger } from '../../logger.js';
import { ingestProcessor } from '../../workers/ingest.js';
import { startWorkers, type WorkerRuntime } from '../../workers/runtime.js';
import { formatAccount, formatPending } from '../format-account.js';

type IngestOptions = {
  format: string;
  source?: string;
  wait?: boolean;
  batchSize?: number;
  submission?: string;
  timeout: number;
  localWorker: boolean;
};

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** Progress on a terminal: a bar; elsewhere (CI, pipes): a plain line now and then. */
function createProgress(totalBytes: number) {
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: '{phase} |{bar}| {percentage}% {detail}', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let lastPlain = 0;
  let lastLine = '';
  let started = false;
  return {
    update(phase: string, value: number, total: number, detail: string, force = false) {
      if (bar) {
        if (!started) {
          bar.start(Math.max(total, 1), 0, { phase, detail });
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(value, { phase, detail });
      } else if (`${phase}: ${detail}` !== lastLine && (force || Date.now() - lastPlain > 2_000)) {
        lastPlain = Date.now();
        lastLine = `${phase}: ${detail}`;
        process.stderr.write(`${lastLine}\n`);
      }
    },
    stop() {
      if (bar && started) bar.stop();
      started = false;
    },
    totalBytes,
  };
}

type Description = { files: string[]; batchSize: number };

/** A reader that yields items one at a time, as chunks of one (the NDJSON reader yields chunks). */
async function* oneByOne(items: AsyncIterable<IngestItem>): AsyncGenerator<IngestItem[]> {
  for await (const item of items) yield [item];
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('enqueue events from files (NDJSON, CSV or FHIR R4 bundles) for the ingest worker')
    .argument('<files...>', 'NDJSON, CSV or FHIR Bundle files (see --format)')
    .addOption(
      new Option('--format <format>', 'input format').choices(['ndjson', 'csv', 'fhir']).default('ndjson'),
    )
    .option('--source <name>', 'the sending system: events claiming another source are rejected')
    .option('--wait', 'wait until every batch is processed and print the account')
    .option('--batch-size <n>', 'events per queue job (default INGEST_BATCH_SIZE)', positiveInt)
    .option('--submission <id>', 'submission id (to resume a crashed run: same files and batch size)')
    .option('--timeout <seconds>', 'with --wait: give up after this long', positiveInt, 600)
    .option(
      '--no-local-worker',
      'with --wait: never process batches in this process, even when no worker runs',
    )
    .action(async (files: string[], options: IngestOptions) => {
      if (options.format === 'fhir' && options.source === undefined) {
        throw new InputError('--format fhir needs --source NAME (FHIR resources do not name our source)');
      }
      await assertReadable(files);
      const config = loadConfig();
      const batchSize = options.batchSize ?? config.ingest.batchSize;
      if (batchSize > 10_000) throw new InputError('--batch-size must be at most 10000');
      const db = createDatabase({ url: config.databaseUrl, poolMax: 2, applicationName: 'survflow-ingest' });
      const redis = createRedisConnection(config.redisUrl, 'producer', 'survflow-ingest');
      const queue = createIngestQueue(config, redis);
      let localWorker: WorkerRuntime | undefined;
      try {
        // Nobody consuming the queue: with --wait, process the batches here (they still travel
        // through the queue); without it, say that they will wait for a worker.
        const workers = await queue.getWorkersCount().catch(() => -1); // -1: CLIENT LIST refused
        if (workers === 0 && options.wait && options.localWorker) {
          process.stderr.write(
            'no worker is running on the ingest queue: processing the batches in this process ' +
              '(run `survflow worker` to process them separately)\n',
          );
          localWorker = await startWorkers({
            config,
            db,
            logger: createLogger('warn', undefined, { role: 'ingest-cli' }),
            processors: [ingestProcessor],
          });
        } else if (workers === 0) {
          process.stderr.write(
            'warning: no worker is running on the ingest queue; batches wait until one starts\n',
          );
        }
        const description: Description = { files, batchSize };
        const opened = await openSubmission(db, {
          id: options.submission,
          channel: 'cli',
          source: options.source ?? null,
          description: JSON.stringify(description),
        });
        if (opened.resumed) {
          const before = JSON.parse(opened.description ?? '{}') as Partial<Description>;
          if (before.batchSize !== undefined && before.batchSize !== batchSize) {
            throw new InputError(
              `submission ${opened.id} was sent with batch size ${before.batchSize}; resume with --batch-size ${before.batchSize}`,
            );
          }
          process.stderr.write(`resuming submission ${opened.id}\n`);
        }

        const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
        const progress = createProgress(sizes.reduce((a, b) => a + b, 0));
        const spans: FileSpan[] = [];
        let bytes = 0;
        let eventCount = 0;
        let batchIndex = 0;
        let batch: IngestItem[] = [];
        const report = (force = false) =>
          progress.update(
            'enqueue',
            bytes,
            progress.totalBytes,
            `${eventCount} events in ${batchIndex} batches`,
            force,
          );
        const flush = async () => {
          if (batch.length === 0) return;
          await enqueueBatch(
            queue,
            { submissionId: opened.id, batchIndex, source: options.source ?? null, items: batch },
            { maxPendingBatches: config.ingest.maxPendingBatches, onWait: () => report() },
          );
          batchIndex++;
          batch = [];
          report();
        };
        let supporting = 0;
        const countBytes = (n: number) => {
          bytes += n;
        };
        const chunks: AsyncIterable<IngestItem[]> =
          options.format === 'fhir'
            ? oneByOne(
                readFhirItems(
                  files,
                  options.source ?? '',
                  spans,
                  (n) => {
                    supporting += n;
                  },
                  countBytes,
                ),
              )
            : options.format === 'csv'
              ? oneByOne(readCsvItems(files, options.source ?? null, spans, countBytes))
              : readNdjsonItems(files, spans, countBytes);
        for await (const chunk of chunks) {
          for (const item of chunk) {
            batch.push(item);
            eventCount++;
            if (batch.length >= batchSize) await flush();
          }
        }
        await flush();
        if (supporting > 0) {
          process.stderr.write(
            `${supporting} FHIR resources read for reference only (patients, medications): not events\n`,
          );
        }
        await sealSubmission(db, opened.id, { batchCount: batchIndex, eventCount });
        report(true);
        progress.stop();
        process.stdout.write(
          `submission ${opened.id}: enqueued ${eventCount} events in ${batchIndex} batches\n`,
        );
        if (!options.wait) return;

        const waitProgress = createProgress(eventCount);
        const result = await waitForSubmission(db, queue, opened.id, {
          timeoutMs: options.timeout * 1000,
          // A poll is a few indexed reads; polling often ends the wait soon after the last batch.
          pollMs: 100,
          // Polls without progress before asking Redis about the pending batches: as before, ~2 s.
          stallPolls: 20,
          firstRejections: 20,
          onProgress: (account: SubmissionAccount) =>
            waitProgress.update(
              'process',
              account.processed,
              eventCount,
              `${account.processed}/${eventCount} events accounted`,
            ),
        });
        waitProgress.stop();
        process.stdout.write(formatAccount(result.account, spans));
        if (result.outcome === 'complete') return;
        process.stderr.write(
          result.outcome === 'timeout'
            ? `survflow: timed out after ${options.timeout}s with ${result.account.pendingBatches.length} batches not accounted\n`
            : `survflow: ${result.account.pendingBatches.length} batches cannot be accounted\n`,
        );
        process.stderr.write(formatPending(result.pending));
        process.exitCode = 1;
      } finally {
        await localWorker?.close();
        await queue.close();
        await redis.quit().catch(() => redis.disconnect());
        await db.destroy();
      }
    });
}
