/**
 * Child process of summary-threads.test.ts: computes one grouping on a statistics thread and
 * then neither closes the threads nor exits, so the test can see that an idle thread does not
 * keep a process alive.
 */
import { loadConfig } from '../../src/config.js';
import { analysisParameters } from '../../src/recompute/parameters.js';
import { SummaryThreads } from '../../src/recompute/summary-threads.js';

const parameters = analysisParameters(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), '2024-06-30');
const threads = new SummaryThreads(1);
const rows = await threads.analyze(
  0,
  {
    labels: ['all'],
    group: Int32Array.from([0, 0, 0]),
    time: Float64Array.from([1, 2, 3]),
    event: Uint8Array.from([1, 0, 1]),
    count: Float64Array.from([2, 1, 1]),
  },
  parameters,
);
process.stdout.write(`computed ${rows.grouping} on ${threads.started} thread\n`);
