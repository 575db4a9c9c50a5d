/**
 * A statistics thread's entry (started by summary-threads.ts): computes the groupings it is
 * sent, one at a time, and answers each request with its rows or its error.
 */
import { parentPort } from 'node:worker_threads';
import { analyzeGrouping } from './summarize.js';
import type { ThreadReply, ThreadRequest } from './summary-threads.js';

const port = parentPort;
if (!port) throw new Error('summary-thread runs as a worker thread (see summary-threads.ts)');

port.on('message', (request: ThreadRequest) => {
  let reply: ThreadReply;
  try {
    reply = {
      id: request.id,
      rows: analyzeGrouping(request.groupingIndex, request.columns, request.parameters),
    };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    reply = { id: request.id, error: { name, message } };
  }
  port.postMessage(reply);
});
