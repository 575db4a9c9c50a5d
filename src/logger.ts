import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that can carry a patient identifier or a secret. pino replaces them before a line is
 * written, so a careless `log.info({ event })` cannot leak an MRN. Wildcards cover one level of
 * nesting, which is how events, payloads and raw bodies are logged here.
 */
export const REDACTED_PATHS = [
  'patientId',
  '*.patientId',
  '*.*.patientId',
  'raw',
  '*.raw',
  'rawBody',
  '*.rawBody',
  'body',
  '*.body',
  'events',
  '*.events',
  'items',
  '*.items',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'pseudonymKey',
  '*.pseudonymKey',
  'rejectedBodyKey',
  '*.rejectedBodyKey',
  'password',
  '*.password',
];

export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  bindings: Record<string, unknown> = {},
): Logger {
  return pino(
    {
      level,
      base: { service: 'survflow', ...bindings },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
