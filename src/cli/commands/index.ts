import type { Command } from 'commander';
import { registerKm } from './km.js';
import { registerMigrate } from './migrate.js';

/** Every CLI command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
  registerKm(program);
}
