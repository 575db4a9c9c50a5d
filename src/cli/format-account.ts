import type { FileSpan } from '../ingest/read-ndjson.js';
import { locateLine } from '../ingest/read-ndjson.js';
import type { PendingBatchStatus, SubmissionAccount } from '../ingest/submission.js';

/** The human-readable account printed by `survflow ingest --wait`. */
export function formatAccount(account: SubmissionAccount, spans: readonly FileSpan[]): string {
  const out: string[] = [];
  const pad = (n: number | null) => String(n ?? '?').padStart(9);
  out.push(`submission ${account.submissionId}`);
  out.push(`  submitted ${pad(account.submitted)}`);
  out.push(`  accepted  ${pad(account.accepted)}`);
  out.push(`  duplicate ${pad(account.duplicate)}`);
  out.push(`  rejected  ${pad(account.rejected)}`);
  const reasons = Object.entries(account.reasonCounts);
  if (reasons.length > 0) {
    out.push('rejections by reason:');
    for (const [reason, count] of reasons) out.push(`  ${String(count).padStart(7)}  ${reason}`);
  }
  if (account.rejections.length > 0) {
    const shown = account.rejections.length < account.rejected ? ` (first ${account.rejections.length})` : '';
    out.push(`rejections${shown}:`);
    for (const r of account.rejections) {
      const where = locateLine(spans, r.line);
      const id = r.eventId === null ? '' : ` event ${r.eventId}`;
      const why = r.reasons.map((reason) => `${reason.path}: ${reason.message}`).join('; ');
      out.push(`  ${where}${id} [${r.kind}] ${why}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export function formatPending(pending: PendingBatchStatus): string {
  const out: string[] = [];
  if (pending.inFlight.length) out.push(`  batches still queued or running: ${pending.inFlight.join(', ')}`);
  for (const f of pending.failed) out.push(`  batch ${f.batchIndex} failed: ${f.reason}`);
  if (pending.missing.length) {
    out.push(
      `  batches missing from Redis (lost): ${pending.missing.join(', ')}; re-run with the same files, ` +
        'batch size and --submission to re-send them',
    );
  }
  return `${out.join('\n')}\n`;
}
