import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encryption at rest of rejected inputs' raw bodies (SPEC 6: a raw body can carry an MRN, yet
 * it must be kept for repair and re-sending). AES-256-GCM, stored as one `bytea`:
 * 12-byte IV || 16-byte authentication tag || ciphertext. GCM authenticates, so a wrong key or a
 * tampered row fails loudly instead of decrypting to garbage.
 */

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`raw-body key must be ${KEY_BYTES} bytes, got ${key.length}`);
}

export function encryptRawBody(key: Buffer, plaintext: string): Buffer {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

export function decryptRawBody(key: Buffer, sealed: Buffer): string {
  checkKey(key);
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted raw body is truncated');
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
    'utf8',
  );
}
