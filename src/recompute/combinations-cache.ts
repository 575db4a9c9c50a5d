import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import {
  COMBINATION_COLUMNS,
  loadCurrentCombinations,
  type PatientCombination,
} from './patient-combinations.js';
import type { FactsRefresh } from './patient-facts.js';

/** How a run got its combinations: as held, held plus its refresh's changes, or read whole. */
export type CombinationsSource = 'held' | 'held + changes' | 'database';

/** The identity of a combination: every column but the count. */
function keyOf(row: PatientCombination): string {
  return JSON.stringify(COMBINATION_COLUMNS.map((column) => row[column]));
}

/**
 * A worker process's copy of the current patient combinations, kept from one run to the next:
 * reading ~17,000 of them from PostgreSQL cost ~115 ms of every nightly run at 100k patients,
 * while a night changes a few thousand. The copy is named like the combinations themselves
 * (`FactsRefresh.combinationsRunNo`: the run whose refresh last changed them), so it is used
 * only when it is exactly what the refresh started from:
 *
 * - same name: nothing changed since, the copy is used as it is;
 * - the refresh's changes start from the copy's name: they are applied (each changed
 *   combination takes its new count; a count of 0 removes it);
 * - anything else (the first run of the process, a full rebuild, a run made by another worker
 *   process in between): the combinations are read from the database and held from then on.
 *
 * It is asked only after the refresh committed, so it never holds changes that were rolled back.
 * Runs are serialized by the recompute lock, and a worker takes one recompute at a time.
 */
export class CombinationsCache {
  private name: string | undefined;
  private readonly rows = new Map<string, PatientCombination>();
  private source: CombinationsSource | undefined;

  /** How the last `current` call got its combinations (for the run's log and tests). */
  get lastSource(): CombinationsSource | undefined {
    return this.source;
  }

  /** The combinations as the refresh left them, in no particular order. */
  async current(
    db: Kysely<Database>,
    refresh: Pick<FactsRefresh, 'combinationsRunNo' | 'combinationChanges'>,
  ): Promise<PatientCombination[]> {
    const changes = refresh.combinationChanges;
    if (this.name !== undefined && this.name === refresh.combinationsRunNo) {
      this.source = 'held';
    } else if (this.name !== undefined && changes !== undefined && changes.from === this.name) {
      for (const row of changes.changed) {
        if (row.patients > 0) this.rows.set(keyOf(row), row);
        else this.rows.delete(keyOf(row));
      }
      this.source = 'held + changes';
    } else {
      // Forgotten first: if the read fails, the next run reads again.
      this.name = undefined;
      this.rows.clear();
      for (const row of await loadCurrentCombinations(db)) this.rows.set(keyOf(row), row);
      this.source = 'database';
    }
    this.name = refresh.combinationsRunNo;
    return [...this.rows.values()];
  }
}
