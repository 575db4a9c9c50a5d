import type { Command } from 'commander';
import { registerIngest } from './ingest.js';
import { registerMigrate } from './migrate.js';
import { registerWorker } from './worker.js';

/** Every CLI command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
  registerWorker(program);
  registerIngest(program);
}
