import type { Command } from 'commander';
import { registerIngest } from './ingest.js';
import { registerMigrate } from './migrate.js';
import { registerRecompute } from './recompute.js';
import { registerSummary } from './summary.js';
import { registerWorker } from './worker.js';

/** Every CLI command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
  registerWorker(program);
  registerIngest(program);
  registerRecompute(program);
  registerSummary(program);
}
