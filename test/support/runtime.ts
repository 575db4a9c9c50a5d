import type { Job, Queue } from 'bullmq';

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until a job reaches one of the given states; returns the fresh job. */
export async function waitForJobState(
  queue: Queue,
  jobId: string,
  states: string[],
  timeoutMs = 15_000,
): Promise<Job> {
  return waitFor(
    async () => {
      // State first, then the job: a job read before its state changes carries stale fields.
      if (!states.includes(await queue.getJobState(jobId))) return undefined;
      return queue.getJob(jobId);
    },
    `job ${jobId} to be ${states.join('/')}`,
    timeoutMs,
  );
}
