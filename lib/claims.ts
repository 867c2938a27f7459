import { InvalidCredentialError, configError } from './errors';
import type { Identity } from './types';

/** Caps on what a credential may carry into a Principal. */
const MAX_LIST = 256;
const MAX_ITEM = 256;
const MAX_DEPTH = 8;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Claims the JWT envelope owns; app claims may not override them. */
export const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'iat_ms', 'auth_time', 'sid', 'roles', 'scope', 'scp', 'typ', 'token_use']);

/** How token claims become a Principal's roles/scopes/claims. */
export interface ClaimMapping {
  /** Dot path to the roles array, e.g. `'realm_access.roles'`. @default 'roles' */
  roles?: string;
  /** Dot path to scopes: a space-separated string or an array. @default 'scope' (then 'scp') */
  scopes?: string;
  /** Full control: map the verified payload to an Identity yourself. */
  map?: (payload: Readonly<Record<string, unknown>>) => Identity;
}

export interface MappedIdentity {
  id: string;
  roles: readonly string[];
  scopes: readonly string[];
  claims: Readonly<Record<string, unknown>>;
}

export function validateMapping(mapping: ClaimMapping | undefined): void {
  if (mapping?.map !== undefined && typeof mapping.map !== 'function') throw configError('claims.map must be a function');
}

export function fromPayload(payload: Readonly<Record<string, unknown>>, mapping: ClaimMapping | undefined): MappedIdentity {
  if (mapping?.map) return sanitizeIdentity(mapping.map(payload));
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_ITEM) throw new InvalidCredentialError();
  const rolesValue = path(payload, mapping?.roles ?? 'roles');
  const scopeValue = mapping?.scopes !== undefined ? path(payload, mapping.scopes) : (payload.scope ?? payload.scp);
  const claims: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(payload)) {
    if (!REGISTERED.has(key) && !FORBIDDEN_KEYS.has(key)) claims[key] = clean(payload[key], 0);
  }
  return { id: sub, roles: stringList(rolesValue ?? []), scopes: scopeList(scopeValue), claims: Object.freeze(claims) };
}

/** Checks an Identity handed to login() or returned by a loader, and caps it like any credential. */
export function sanitizeIdentity(identity: Identity): MappedIdentity {
  if (typeof identity !== 'object' || identity === null || typeof identity.id !== 'string' || identity.id === '' || identity.id.length > MAX_ITEM) {
    throw configError('an Identity needs a non-empty string `id` (at most 256 characters)');
  }
  const claims: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(identity.claims ?? {})) {
    if (REGISTERED.has(key) || FORBIDDEN_KEYS.has(key)) throw configError(`claim '${key}' is reserved`);
    claims[key] = clean((identity.claims as Record<string, unknown>)[key], 0);
  }
  return { id: identity.id, roles: stringList(identity.roles ?? []), scopes: stringList(identity.scopes ?? []), claims: Object.freeze(claims) };
}

function path(obj: Readonly<Record<string, unknown>>, dotted: string): unknown {
  // The default ('roles') is one plain key: no split on every verification.
  if (!dotted.includes('.')) return FORBIDDEN_KEYS.has(dotted) || !Object.hasOwn(obj, dotted) ? undefined : obj[dotted];
  let value: unknown = obj;
  for (const part of dotted.split('.')) {
    if (typeof value !== 'object' || value === null || FORBIDDEN_KEYS.has(part) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Roles must be an array of strings; a string or an object is a malformed credential, never a grant. */
function stringList(value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length > MAX_LIST) throw new InvalidCredentialError();
  for (const item of value) if (typeof item !== 'string' || item === '' || item.length > MAX_ITEM) throw new InvalidCredentialError();
  return Object.freeze([...new Set(value as string[])]);
}

function scopeList(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (typeof value === 'string') return stringList(value.split(' ').filter((s) => s !== ''));
  return stringList(value);
}

/** Deep copy with depth and size caps and without prototype-polluting keys. */
function clean(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) throw new InvalidCredentialError();
  if (Array.isArray(value)) {
    if (value.length > MAX_LIST * 4) throw new InvalidCredentialError();
    return Object.freeze(value.map((v) => clean(v, depth + 1)));
  }
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) if (!FORBIDDEN_KEYS.has(key)) out[key] = clean((value as Record<string, unknown>)[key], depth + 1);
  return Object.freeze(out);
}
