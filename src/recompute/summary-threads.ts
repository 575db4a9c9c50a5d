import { Worker } from 'node:worker_threads';
import { SurvflowError } from '../errors.js';
import type { AnalysisParameters } from './parameters.js';
import type { GroupingAnalyzer, GroupingColumns, GroupingRows } from './summarize.js';

/** A statistics thread failed: the grouping it computed threw there, or the thread itself died. */
export class SummaryThreadError extends SurvflowError {
  override name = 'SummaryThreadError';
}

/** What a statistics thread is sent: one grouping to compute (see `analyzeGrouping`). */
export type ThreadRequest = {
  id: number;
  groupingIndex: number;
  columns: GroupingColumns;
  parameters: AnalysisParameters;
};

/** What it answers: the grouping's rows, or the name and message of what it threw. */
export type ThreadReply =
  | { id: number; rows: GroupingRows }
  | { id: number; error: { name: string; message: string } };

type Task = {
  request: ThreadRequest;
  resolve: (rows: GroupingRows) => void;
  reject: (error: Error) => void;
};

/** A thread and the groupings sent to it, oldest first (it answers them in that order). */
type Thread = { worker: Worker; tasks: Task[] };

/**
 * Groupings a thread may hold at once: the one it computes and the next, so it starts the next
 * as soon as it answers, without waiting for this thread's event loop to send one.
 */
const TASKS_PER_THREAD = 2;

/**
 * Starts a statistics thread. From the build it is summary-thread.js beside this file; from
 * TypeScript source (tests, `tsx`) the thread registers tsx's loader before importing the
 * entry, because a worker thread does not inherit the loader of the thread that starts it.
 */
function startThread(): Worker {
  if (import.meta.url.endsWith('.ts')) {
    const entry = JSON.stringify(new URL('./summary-thread.ts', import.meta.url).href);
    return new Worker(
      `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`,
      { eval: true },
    );
  }
  return new Worker(new URL('./summary-thread.js', import.meta.url));
}

/**
 * A worker process's statistics threads: up to `size` worker threads, each computing one
 * grouping at a time (and holding the next), so a run's six groupings are computed side by side
 * on as many cores while the process's own thread writes the counts, the attrition and the
 * finished groupings (and its event loop stays free to renew the job's lock). Each thread
 * answers with the grouping's rows, documents as JSON text and curves as bytes, so no curve
 * point object crosses back.
 *
 * Threads start on first use and are kept between runs: a thread that has computed before runs
 * the statistics compiled, where a new one would start in the interpreter (a first pass over
 * the six groupings takes ~3x as long as later ones). An idle thread does not keep the process
 * alive. A thread that dies fails the grouping it was computing (the run fails and the previous
 * published run stays latest); the next grouping gets a new thread.
 */
export class SummaryThreads {
  readonly size: number;
  readonly #threads = new Set<Thread>();
  #queue: Task[] = [];
  #nextId = 0;
  #closed = false;

  constructor(size: number) {
    if (!(Number.isInteger(size) && size >= 1))
      throw new RangeError(`statistics threads: size must be a positive integer, got ${size}`);
    this.size = size;
  }

  /** Threads currently started (for tests and the run's log). */
  get started(): number {
    return this.#threads.size;
  }

  /** `analyzeGrouping` on one of the threads (a `GroupingAnalyzer`). */
  readonly analyze: GroupingAnalyzer = (groupingIndex, columns, parameters) =>
    new Promise<GroupingRows>((resolve, reject) => {
      if (this.#closed) {
        reject(new SummaryThreadError('the statistics threads are closed'));
        return;
      }
      const request: ThreadRequest = { id: this.#nextId++, groupingIndex, columns, parameters };
      this.#queue.push({ request, resolve, reject });
      this.#dispatch();
    });

  /** Terminates every thread; a grouping still queued or being computed fails. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const queued = this.#queue;
    this.#queue = [];
    for (const task of queued) task.reject(new SummaryThreadError('the statistics threads were closed'));
    // A terminated thread's 'exit' fails the grouping it was computing.
    await Promise.all([...this.#threads].map((thread) => thread.worker.terminate()));
    this.#threads.clear();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      // The least busy thread; a new one while fewer than `size` run and all have work.
      let thread: Thread | undefined;
      for (const t of this.#threads) if (!thread || t.tasks.length < thread.tasks.length) thread = t;
      if (!thread || (thread.tasks.length > 0 && this.#threads.size < this.size)) thread = this.#start();
      if (thread.tasks.length >= TASKS_PER_THREAD) return;
      const task = this.#queue.shift() as Task;
      thread.tasks.push(task);
      // A thread with work holds the process open until it answers; an idle one does not.
      thread.worker.ref();
      thread.worker.postMessage(task.request);
    }
  }

  #start(): Thread {
    const worker = startThread();
    const thread: Thread = { worker, tasks: [] };
    worker.on('message', (reply: ThreadReply) => {
      if (thread.tasks[0]?.request.id !== reply.id) {
        // Cannot happen (a thread answers in order); a thread out of step is retired.
        this.#retire(
          thread,
          new SummaryThreadError(`a statistics thread answered request ${reply.id} unasked`),
        );
        return;
      }
      const task = thread.tasks.shift() as Task;
      if (thread.tasks.length === 0) worker.unref();
      if ('rows' in reply) task.resolve(reply.rows);
      else
        task.reject(new SummaryThreadError(`statistics thread: ${reply.error.name}: ${reply.error.message}`));
      this.#dispatch();
    });
    worker.on('error', (error) => {
      this.#retire(thread, new SummaryThreadError('a statistics thread failed', { cause: error }));
    });
    worker.on('exit', (code) => {
      this.#retire(thread, new SummaryThreadError(`a statistics thread exited (code ${code})`));
    });
    worker.unref();
    this.#threads.add(thread);
    return thread;
  }

  /** Takes a thread out of the pool, failing the groupings sent to it. */
  #retire(thread: Thread, error: SummaryThreadError): void {
    if (!this.#threads.delete(thread)) return;
    for (const task of thread.tasks.splice(0)) task.reject(error);
    void thread.worker.terminate();
    if (!this.#closed) this.#dispatch();
  }
}
