import type { Command } from 'commander';
import { registerMigrate } from './migrate.js';
import { registerRecompute } from './recompute.js';
import { registerSummary } from './summary.js';

/** Every CLI command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
  registerRecompute(program);
  registerSummary(program);
}
