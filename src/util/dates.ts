/** Clinical dates are ISO `YYYY-MM-DD` strings; arithmetic happens in whole UTC days. */

const DAY_MS = 86_400_000;

export function isoToDayNumber(iso: string): number {
  return Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
}

export function dayNumberToIso(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(iso: string, days: number): string {
  return dayNumberToIso(isoToDayNumber(iso) + days);
}

export function daysBetween(from: string, to: string): number {
  return isoToDayNumber(to) - isoToDayNumber(from);
}

/** Today's date in UTC, the default data cutoff. */
export function todayIso(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
