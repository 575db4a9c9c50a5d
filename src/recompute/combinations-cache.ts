import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import {
  COMBINATION_COLUMNS,
  combinationOf,
  loadCurrentCombinations,
  type PatientCombination,
} from './patient-combinations.js';
import type { FactsRefresh, UncommittedCombinationChanges } from './patient-facts.js';

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
 *   combination's count changes by its delta; a count that reaches 0 removes it);
 * - anything else (the first run of the process, a full rebuild, a run made by another worker
 *   process in between): the combinations are read from the database and held from then on.
 *
 * A refresh's changes may also be applied before it commits (`applyUncommitted`), so the run
 * computes while the refresh writes them; the copy then has no name until `current` is asked
 * with the committed refresh (whose name is the one the changes announced), so a refresh that
 * fails leaves a copy that is read again, never changes that were rolled back. Runs are
 * serialized by the recompute lock, and a worker takes one recompute at a time.
 */
export class CombinationsCache {
  private name: string | undefined;
  /** The name the copy takes if the refresh whose changes were applied uncommitted commits. */
  private pendingName: string | undefined;
  private readonly rows = new Map<string, PatientCombination>();
  private source: CombinationsSource | undefined;

  /** How the last `current` call got its combinations (for the run's log and tests). */
  get lastSource(): CombinationsSource | undefined {
    return this.source;
  }

  /**
   * Applies a refresh's changes before it commits, if the copy is exactly what the refresh
   * started from (`changes.from`): returns the combinations as they will be once it commits
   * (in no particular order), or undefined (the run gets them from `current` afterwards).
   */
  applyUncommitted(changes: UncommittedCombinationChanges): PatientCombination[] | undefined {
    if (this.name === undefined || this.name !== changes.from) return undefined;
    this.name = undefined;
    if (!this.applied(changes.deltas)) return undefined;
    this.pendingName = changes.to;
    return [...this.rows.values()];
  }

  /** The combinations as the refresh left them, in no particular order. */
  async current(
    db: Kysely<Database>,
    refresh: Pick<FactsRefresh, 'combinationsRunNo' | 'combinationChanges'>,
  ): Promise<PatientCombination[]> {
    const changes = refresh.combinationChanges;
    const pendingName = this.pendingName;
    this.pendingName = undefined;
    if (pendingName !== undefined && pendingName === refresh.combinationsRunNo) {
      this.source = 'held + changes';
    } else if (this.name !== undefined && this.name === refresh.combinationsRunNo) {
      this.source = 'held';
    } else if (
      this.name !== undefined &&
      changes !== undefined &&
      changes.from === this.name &&
      this.applied(changes.deltas)
    ) {
      this.source = 'held + changes';
    } else {
      // Forgotten first: if the read fails, the next run reads again.
      this.name = undefined;
      this.rows.clear();
      for (const row of await loadCurrentCombinations(db)) this.rows.set(keyOf(row), combinationOf(row));
      this.source = 'database';
    }
    this.name = refresh.combinationsRunNo;
    return [...this.rows.values()];
  }

  /**
   * Adds count changes to the copy. A count below zero means the copy (or the table) drifted
   * from the versions: the copy is emptied and nameless, and false returned.
   */
  private applied(deltas: readonly PatientCombination[]): boolean {
    for (const delta of deltas) {
      const key = keyOf(delta);
      const patients = (this.rows.get(key)?.patients ?? 0) + delta.patients;
      if (patients < 0) {
        this.name = undefined;
        this.rows.clear();
        return false;
      }
      if (patients === 0) this.rows.delete(key);
      else this.rows.set(key, combinationOf(delta, patients));
    }
    return true;
  }
}
