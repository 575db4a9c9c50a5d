import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * The whole environment, parsed once at start-up. No other module reads `process.env`:
 * everything else receives a `Config` (or a part of it) as an argument, which keeps tests
 * free to build their own configuration.
 */

const DEV_PSEUDONYM_KEY = 'survflow-development-pseudonym-key-not-for-production';
// 32 bytes, hex. Only used outside production, where it is announced with a warning.
const DEV_REJECTED_BODY_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/ })
      .default('postgres://postgres@127.0.0.1:5432/survflow'),
    // A recompute holds three connections at once: its advisory lock, the transaction writing its
    // summaries and its progress updates; fewer would make it wait for itself forever. A full
    // rebuild's partitions want one each on top (with fewer they take turns).
    DATABASE_POOL_MAX: integer(3, 200).default(10),
    // How long the worker and the API keep an idle database connection (0: for the life of the
    // process). A new PostgreSQL session first maps every shared buffer it reads or writes into
    // its own address space, one page fault per 4 kB page where the server has no huge pages:
    // a nightly recompute on sessions closed during the quiet day took ~1.7x as long as the same
    // night on sessions kept from an earlier run (100k patients, 500 against 300 ms).
    DATABASE_POOL_IDLE_MS: integer(0, 86_400_000).default(0),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    // Braces make the prefix a Redis Cluster hash tag: all keys of all queues land in one slot.
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_{}:.-]+$/, 'letters, digits, _ { } : . - only')
      .default('{survflow}'),
    // Batches in flight per worker process: with 4, one is always being validated while others
    // are in PostgreSQL (with 2 the worker and the database took turns idling).
    INGEST_CONCURRENCY: integer(1, 64).default(4),
    INGEST_BATCH_SIZE: integer(1, 10_000).default(2_000),
    INGEST_MAX_PENDING_BATCHES: integer(1, 100_000).default(200),
    INGEST_ATTEMPTS: integer(1, 100).default(8),
    INGEST_BACKOFF_MS: integer(10, 600_000).default(1_000),
    JOBS_KEEP_COMPLETED: integer(0, 1_000_000).default(1_000),
    JOBS_KEEP_FAILED: integer(0, 1_000_000).default(10_000),
    WORKER_LOCK_DURATION_MS: integer(1_000, 3_600_000).default(30_000),
    WORKER_STALLED_INTERVAL_MS: integer(500, 3_600_000).default(30_000),
    WORKER_MAX_STALLED_COUNT: integer(0, 1_000).default(1),
    RECOMPUTE_LOCK_DURATION_MS: integer(1_000, 3_600_000).default(300_000),
    // A derivation of many patients (a full rebuild: first run, --full, changed parameters; or
    // an incremental refresh of at least RECOMPUTE_PARTITION_MIN_PATIENTS) runs in this many
    // partitions on as many database connections at once: one core and up to 256 MB of sort
    // memory each on the database server. 1 derives in one statement.
    RECOMPUTE_DERIVE_PARTITIONS: integer(1, 64).default(2),
    // Below this many touched patients an incremental refresh derives in one statement (the
    // partitions' extra round trips and staging cost more than they save).
    RECOMPUTE_PARTITION_MIN_PATIENTS: integer(1, 100_000_000).default(500),
    // Worker threads a recompute computes its groupings' statistics on, side by side (0: on the
    // worker's own thread, one after another). Two by default where there are two cores.
    RECOMPUTE_STATS_THREADS: integer(0, 64).default(availableParallelism() >= 2 ? 2 : 0),
    PSEUDONYM_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    REJECTED_BODY_KEY: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 32 bytes as 64 hex characters')
      .optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    PORT: integer(0, 65_535).default(8080),
    HOST: z.string().default('0.0.0.0'),
    API_BODY_LIMIT_BYTES: integer(1_024, 1_073_741_824).default(5 * 1024 * 1024),
    API_RATE_LIMIT_MAX: integer(1, 1_000_000).default(600),
    API_RATE_LIMIT_WINDOW_MS: integer(1_000, 86_400_000).default(60_000),
    RECOMPUTE_CRON: z.string().default('0 2 * * *'),
    RECOMPUTE_TZ: z.string().default('UTC'),
    RECOMPUTE_CUTOFF: isoDate.optional(),
    LANDMARK_MONTHS: z.coerce.number().positive().max(240).default(9),
    CYCLE_GROUP_BOUNDS: z
      .string()
      .regex(/^\d+(,\d+)*$/, 'comma-separated increasing upper bounds, e.g. 6,12')
      .default('6,12'),
    SUPPRESSION_K: integer(0, 1_000).default(5),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    for (const key of ['PSEUDONYM_KEY', 'REJECTED_BODY_KEY'] as const) {
      if (env[key] === undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is required when NODE_ENV=production' });
      }
    }
  });

export type Config = {
  readonly env: 'development' | 'test' | 'production';
  readonly databaseUrl: string;
  readonly databasePoolMax: number;
  /** Idle connections of the worker's and the API's pools are closed after this; 0 keeps them. */
  readonly databasePoolIdleMs: number;
  readonly redisUrl: string;
  readonly queuePrefix: string;
  readonly ingest: {
    readonly concurrency: number;
    readonly batchSize: number;
    readonly maxPendingBatches: number;
    readonly attempts: number;
    readonly backoffMs: number;
  };
  readonly jobs: { readonly keepCompleted: number; readonly keepFailed: number };
  /**
   * BullMQ stalled-job recovery: a worker holds a lock of `lockDurationMs` on each job it runs
   * (renewed at half that); a crashed worker's jobs are returned to the queue by the next
   * stalled check after the lock expires (every `stalledIntervalMs`). A job that stalls more
   * than `maxStalledCount` times fails for good.
   */
  readonly worker: {
    readonly lockDurationMs: number;
    readonly stalledIntervalMs: number;
    readonly maxStalledCount: number;
  };
  readonly pseudonymKey: string;
  readonly rejectedBodyKey: Buffer;
  /** True when a key above is the built-in development default (announced at start-up). */
  readonly usesDevelopmentKeys: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly http: {
    readonly port: number;
    readonly host: string;
    /** Largest request body accepted; larger ones are answered with 413. */
    readonly bodyLimitBytes: number;
    /** Requests per key (or per client address when unauthenticated) per window; then 429. */
    readonly rateLimitMax: number;
    readonly rateLimitWindowMs: number;
  };
  readonly recompute: {
    /** BullMQ lock of a recompute job: long, because parts of a run keep the event loop busy. */
    readonly lockDurationMs: number;
    /** Partitions (database connections) a derivation of many patients runs in at once. */
    readonly derivePartitions: number;
    /** Touched patients from which an incremental refresh derives in partitions. */
    readonly partitionMinPatients: number;
    /** Statistics threads of a worker process (0: statistics on the worker's own thread). */
    readonly statsThreads: number;
    readonly cron: string;
    readonly timeZone: string;
    /** Fixed cutoff for scheduled runs (mostly for demos); unset means "the run date". */
    readonly cutoff: string | undefined;
    readonly landmarkMonths: number;
    readonly cycleGroupBounds: readonly number[];
    readonly suppressionK: number;
  };
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseBounds(text: string): number[] {
  const bounds = text.split(',').map(Number);
  for (let i = 1; i < bounds.length; i++) {
    if ((bounds[i] ?? 0) <= (bounds[i - 1] ?? 0)) {
      throw new ConfigError(`CYCLE_GROUP_BOUNDS: bounds must increase, got ${text}`);
    }
  }
  return bounds;
}

/** Parses an environment (default: the process's). Throws ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(env)'}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  return {
    env: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    databasePoolMax: env.DATABASE_POOL_MAX,
    databasePoolIdleMs: env.DATABASE_POOL_IDLE_MS,
    redisUrl: env.REDIS_URL,
    queuePrefix: env.QUEUE_PREFIX,
    ingest: {
      concurrency: env.INGEST_CONCURRENCY,
      batchSize: env.INGEST_BATCH_SIZE,
      maxPendingBatches: env.INGEST_MAX_PENDING_BATCHES,
      attempts: env.INGEST_ATTEMPTS,
      backoffMs: env.INGEST_BACKOFF_MS,
    },
    jobs: { keepCompleted: env.JOBS_KEEP_COMPLETED, keepFailed: env.JOBS_KEEP_FAILED },
    worker: {
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    },
    pseudonymKey: env.PSEUDONYM_KEY ?? DEV_PSEUDONYM_KEY,
    rejectedBodyKey: Buffer.from(env.REJECTED_BODY_KEY ?? DEV_REJECTED_BODY_KEY, 'hex'),
    usesDevelopmentKeys: env.PSEUDONYM_KEY === undefined || env.REJECTED_BODY_KEY === undefined,
    logLevel: env.LOG_LEVEL,
    http: {
      port: env.PORT,
      host: env.HOST,
      bodyLimitBytes: env.API_BODY_LIMIT_BYTES,
      rateLimitMax: env.API_RATE_LIMIT_MAX,
      rateLimitWindowMs: env.API_RATE_LIMIT_WINDOW_MS,
    },
    recompute: {
      lockDurationMs: env.RECOMPUTE_LOCK_DURATION_MS,
      derivePartitions: env.RECOMPUTE_DERIVE_PARTITIONS,
      partitionMinPatients: env.RECOMPUTE_PARTITION_MIN_PATIENTS,
      statsThreads: env.RECOMPUTE_STATS_THREADS,
      cron: env.RECOMPUTE_CRON,
      timeZone: env.RECOMPUTE_TZ,
      cutoff: env.RECOMPUTE_CUTOFF,
      landmarkMonths: env.LANDMARK_MONTHS,
      cycleGroupBounds: parseBounds(env.CYCLE_GROUP_BOUNDS),
      suppressionK: env.SUPPRESSION_K,
    },
  };
}

/** A copy of `config` with another database (tests, the migrate command's bootstrap). */
export function withDatabaseUrl(config: Config, databaseUrl: string): Config {
  return { ...config, databaseUrl };
}
