import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the operators' queue dashboard lives. */
export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export type DashboardAuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export type QueueDashboardOptions = {
  /** Show the queues read-only (no retry, clean, promote or remove buttons). Default false. */
  readOnly?: boolean;
};

/**
 * Mounts bull-board (the queue dashboard: counts, jobs, failures, retries) under /admin/queues.
 * Every route of the dashboard, its static assets included, sits in one encapsulated Fastify
 * scope whose onRequest hook is `authHook`, so nothing of it is reachable without the admin
 * credential and the rest of the application is not affected by the hook.
 */
export async function mountQueueDashboard(
  app: FastifyInstance,
  queues: readonly Queue[],
  authHook: DashboardAuthHook,
  options: QueueDashboardOptions = {},
): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly ?? false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'survflow queues' } },
  });
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', authHook);
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: QUEUE_DASHBOARD_PATH },
  );
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * An onRequest hook that admits requests carrying the admin key, either as
 * `Authorization: Bearer <key>` (scripts) or as the password of HTTP Basic authentication (any
 * user name), which makes a browser ask for it. Anything else gets 401 with a Basic challenge.
 */
export function adminKeyAuthHook(adminKey: string): DashboardAuthHook {
  if (adminKey.length < 16) throw new Error('the admin key must be at least 16 characters');
  return async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const [scheme, value = ''] = header.split(/\s+/, 2);
    let given: string | null = null;
    if (scheme?.toLowerCase() === 'bearer') given = value;
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      given = colon >= 0 ? decoded.slice(colon + 1) : null;
    }
    if (given !== null && sameSecret(given, adminKey)) return;
    await reply
      .code(401)
      .header('www-authenticate', 'Basic realm="survflow admin", charset="UTF-8"')
      .send({ error: 'admin key required' });
  };
}
