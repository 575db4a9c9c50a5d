import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import { siblingDatabaseUrl } from '../../src/db/connection.js';

/**
 * One template per test run: several runs share a server (CI, parallel checkouts on one
 * machine), and a run must neither drop another's template while it is cloned nor clone a
 * template migrated by another branch.
 */
export const TEMPLATE_DATABASE = `survflow_test_template_${process.pid}`;

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: siblingDatabaseUrl(url, 'postgres'),
    connectionTimeoutMillis: 3_000,
  });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3_000,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export type Servers = { databaseUrl: string; redisUrl: string; stop: () => Promise<void> };

/**
 * The configured servers when they answer; otherwise throwaway containers when Docker is
 * available; otherwise one clear message saying what is missing.
 */
export async function ensureServers(databaseUrl: string, redisUrl: string): Promise<Servers> {
  const [pgUp, redisUp] = await Promise.all([postgresAnswers(databaseUrl), redisAnswers(redisUrl)]);
  if (pgUp && redisUp) return { databaseUrl, redisUrl, stop: async () => {} };
  if (!dockerAvailable()) {
    const missing = [
      !pgUp && `PostgreSQL at ${new URL(databaseUrl).host}`,
      !redisUp && `Redis at ${new URL(redisUrl).host}`,
    ]
      .filter(Boolean)
      .join(' and ');
    throw new Error(
      `tests need ${missing}, which do not answer, and no Docker engine is available to start them. ` +
        'Start the servers (bash .ci/run does) or set DATABASE_URL / REDIS_URL.',
    );
  }
  const { GenericContainer, Wait } = await import('testcontainers');
  const stops: (() => Promise<unknown>)[] = [];
  let resolvedDb = databaseUrl;
  let resolvedRedis = redisUrl;
  if (!pgUp) {
    const container = await new GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(() => container.stop());
    resolvedDb = `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  }
  if (!redisUp) {
    const container = await new GenericContainer('redis:7-alpine')
      .withCommand(['redis-server', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .start();
    stops.push(() => container.stop());
    resolvedRedis = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  }
  return {
    databaseUrl: resolvedDb,
    redisUrl: resolvedRedis,
    stop: async () => {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}

async function withMaintenanceClient<T>(
  serverUrl: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: siblingDatabaseUrl(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withMaintenanceClient(serverUrl, (client) =>
    client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`),
  );
}

/** Drops and creates `name` (optionally from a template); returns its URL. */
export async function recreateDatabase(serverUrl: string, name: string, template?: string): Promise<string> {
  await withMaintenanceClient(serverUrl, async (client) => {
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    const from = template ? ` template ${pg.escapeIdentifier(template)}` : '';
    // Two files cloning the same template at the same instant can collide ("source database
    // is being accessed by other users"); a short retry is enough.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`create database ${pg.escapeIdentifier(name)}${from}`);
        return;
      } catch (error) {
        if (attempt >= 20 || !String(error).includes('being accessed by other users')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  return siblingDatabaseUrl(serverUrl, name);
}
