import { InputError } from '../errors.js';

/** The Idempotency-Key header: one value, 1-200 visible characters. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new InputError('send one Idempotency-Key header');
  if (!/^[\x21-\x7e]{1,200}$/.test(header)) {
    throw new InputError('Idempotency-Key must be 1-200 visible ASCII characters');
  }
  return header;
}
