import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { eventSchema } from '../contract/events.js';
import type { ApiScope, Database } from '../db/database.js';
import { InputError, NotFoundError } from '../errors.js';

/**
 * API keys of producing systems (SPEC section 6). A key reads `sfk_<12 hex>_<43 base64url>`:
 * the first part is a non-secret lookup id stored in the clear, the rest is 32 random bytes.
 * Only SHA-256 of the whole key is stored. A slow password hash (scrypt) would add nothing here:
 * a 256-bit random secret cannot be guessed, and a fast hash keeps authentication cheap on a
 * hot intake path.
 */

export const API_SCOPES = ['ingest', 'query', 'admin'] as const satisfies readonly ApiScope[];

const KEY_PATTERN = /^(sfk_[0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

/** The source name rule of the event contract: a source's name is the `source` of its events. */
const sourceNameSchema = eventSchema.options[0].shape.source;

export type Principal = { keyId: string; source: string; scopes: readonly ApiScope[] };

export type AuthenticationResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'malformed key' | 'unknown key' | 'revoked key' };

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function parseScopes(text: string): ApiScope[] {
  const scopes = [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  for (const scope of scopes) {
    if (!(API_SCOPES as readonly string[]).includes(scope)) {
      throw new InputError(`unknown scope "${scope}" (known: ${API_SCOPES.join(', ')})`);
    }
  }
  if (scopes.length === 0) throw new InputError('at least one scope is needed');
  return scopes as ApiScope[];
}

export function generateApiKey(): { id: string; key: string; hash: string } {
  const id = `sfk_${randomBytes(6).toString('hex')}`;
  const key = `${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: sha256Hex(key) };
}

/**
 * Creates the source when it does not exist (or re-activates a revoked one) and issues a new key
 * for it. The key is returned once; it cannot be recovered later.
 */
export async function createSourceKey(
  db: Kysely<Database>,
  name: string,
  scopes: readonly ApiScope[],
): Promise<{ source: string; keyId: string; key: string; scopes: readonly ApiScope[] }> {
  const parsed = sourceNameSchema.safeParse(name);
  if (!parsed.success) {
    throw new InputError(`invalid source name "${name}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  const { id, key, hash } = generateApiKey();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('api_sources')
      .values({ name })
      .onConflict((oc) => oc.column('name').doUpdateSet({ revoked_at: null }))
      .execute();
    await trx
      .insertInto('api_keys')
      .values({ id, source: name, key_hash: hash, scopes: [...scopes] })
      .execute();
  });
  return { source: name, keyId: id, key, scopes };
}

export type SourceListing = {
  name: string;
  createdAt: Date;
  revokedAt: Date | null;
  keys: { id: string; scopes: ApiScope[]; createdAt: Date; revokedAt: Date | null }[];
};

export async function listSources(db: Kysely<Database>): Promise<SourceListing[]> {
  const sources = await db.selectFrom('api_sources').selectAll().orderBy('name').execute();
  const keys = await db.selectFrom('api_keys').selectAll().orderBy('created_at').execute();
  return sources.map((s) => ({
    name: s.name,
    createdAt: s.created_at,
    revokedAt: s.revoked_at,
    keys: keys
      .filter((k) => k.source === s.name)
      .map((k) => ({ id: k.id, scopes: k.scopes, createdAt: k.created_at, revokedAt: k.revoked_at })),
  }));
}

/**
 * Revokes a whole source (all its keys) by name, or one key by its id (`sfk_...`). Events
 * already accepted stay in the ledger; new requests with the keys are refused with 401.
 */
export async function revokeSourceOrKey(db: Kysely<Database>, nameOrKeyId: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    if (/^sfk_[0-9a-f]{12}$/.test(nameOrKeyId)) {
      const key = await trx
        .updateTable('api_keys')
        .set({ revoked_at: new Date() })
        .where('id', '=', nameOrKeyId)
        .where('revoked_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!key) throw new NotFoundError(`no active key ${nameOrKeyId}`);
      return `revoked key ${nameOrKeyId}`;
    }
    const source = await trx
      .updateTable('api_sources')
      .set({ revoked_at: new Date() })
      .where('name', '=', nameOrKeyId)
      .returning('name')
      .executeTakeFirst();
    if (!source) throw new NotFoundError(`no source named ${nameOrKeyId}`);
    const keys = await trx
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('source', '=', nameOrKeyId)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    return `revoked source ${nameOrKeyId} (${keys.length} key${keys.length === 1 ? '' : 's'})`;
  });
}

export async function authenticateApiKey(
  db: Kysely<Database>,
  presented: string,
): Promise<AuthenticationResult> {
  const match = KEY_PATTERN.exec(presented);
  if (!match?.[1]) return { ok: false, reason: 'malformed key' };
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('api_sources', 'api_sources.name', 'api_keys.source')
    .select([
      'api_keys.id',
      'api_keys.source',
      'api_keys.key_hash',
      'api_keys.scopes',
      'api_keys.revoked_at as keyRevokedAt',
      'api_sources.revoked_at as sourceRevokedAt',
    ])
    .where('api_keys.id', '=', match[1])
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown key' };
  const expected = Buffer.from(row.key_hash, 'hex');
  const actual = Buffer.from(sha256Hex(presented), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return { ok: false, reason: 'unknown key' };
  }
  if (row.keyRevokedAt || row.sourceRevokedAt) return { ok: false, reason: 'revoked key' };
  return { ok: true, principal: { keyId: row.id, source: row.source, scopes: row.scopes } };
}
