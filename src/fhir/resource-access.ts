/**
 * Small, total accessors over untyped FHIR JSON. A Bundle arrives from outside: nothing about its
 * shape is trusted, and every accessor returns undefined instead of throwing.
 */

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export type Coding = { system?: string; code?: string; display?: string };

/** All codings of a CodeableConcept, plus its text as a display-only coding. */
export function codings(concept: unknown): Coding[] {
  const cc = asObject(concept);
  if (!cc) return [];
  const out: Coding[] = asArray(cc.coding).flatMap((c) => {
    const o = asObject(c);
    if (!o) return [];
    const coding: Coding = {};
    const system = asString(o.system);
    const code = asString(o.code);
    const display = asString(o.display);
    if (system) coding.system = system;
    if (code) coding.code = code;
    if (display) coding.display = display;
    return [coding];
  });
  const text = asString(cc.text);
  if (text) out.push({ display: text });
  return out;
}

/** Every word a CodeableConcept offers (codes, displays, text), lower-cased, for matching. */
export function conceptText(concept: unknown): string {
  return codings(concept)
    .flatMap((c) => [c.code, c.display])
    .filter(Boolean)
    .join(' | ')
    .toLowerCase();
}

export function extensions(element: unknown, url: string): Json[] {
  return asArray(asObject(element)?.extension)
    .map(asObject)
    .filter((e): e is Json => e !== undefined && e.url === url);
}

export function extension(element: unknown, url: string): Json | undefined {
  return extensions(element, url)[0];
}

/** A positive integer from an extension's valuePositiveInt / valueUnsignedInt / valueInteger. */
export function integerValue(ext: Json | undefined): number | undefined {
  if (!ext) return undefined;
  for (const key of ['valuePositiveInt', 'valueUnsignedInt', 'valueInteger']) {
    const v = ext[key];
    if (typeof v === 'number' && Number.isInteger(v)) return v;
  }
  return undefined;
}

/** The date part of a FHIR date or dateTime (`2021-03-04`, `2021-03-04T10:00:00+08:00`). */
export function datePart(value: unknown): string | undefined {
  const text = asString(value);
  if (!text) return undefined;
  // The clinical date is the local date as recorded: the offset is not applied on purpose
  // (a 23:30+08:00 administration happened on that calendar day at the hospital).
  const match = /^(\d{4}-\d{2}-\d{2})(T|$)/.exec(text);
  return match?.[1];
}

export function hasProfile(resource: Json, profile: string): boolean {
  return asArray(asObject(resource.meta)?.profile).some(
    (p) => typeof p === 'string' && (p === profile || p.startsWith(`${profile}|`)),
  );
}
