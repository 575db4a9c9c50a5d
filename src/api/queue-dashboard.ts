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
