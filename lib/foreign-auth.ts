import { configError } from './errors';

// `req.auth` is a popular name: express-jwt (v7+) writes its decoded payload there by default, and so may an app
// moving over from it. principal() keeps its own `req.auth` in the request slot (lib/request-slot.ts), so guards
// still find their verdict when something else overwrites the property; what breaks is the route code that reads
// the property expecting one of the two. Each way round is named once per principal(), with the fix.

/** Stable `code` of the warning emitted when another middleware's value and principal()'s `req.auth` collide. */
export const FOREIGN_REQ_AUTH = 'EXPRESS_PRINCIPAL_FOREIGN_REQ_AUTH';

const FIX = "give the other middleware a property of its own (express-jwt: expressjwt({ requestProperty: 'jwt', ... }), "
  + 'then read req.jwt), or remove it once the move to express-principal is done';

const JWT_CLAIMS = new Set(['sub', 'iat', 'exp', 'iss', 'aud', 'nbf', 'jti']);
const MAX_KEYS = 8;
const MAX_KEY_LENGTH = 40;

/** Whether `value` is some copy's `req.auth` (this one's or another installed copy's): it has the methods routes call. */
export function isAuthContextLike(value: unknown): boolean {
  const v = value as { login?: unknown; logout?: unknown } | null | undefined;
  return typeof v === 'object' && v !== null && typeof v.login === 'function' && typeof v.logout === 'function' && 'error' in v;
}

/** A value in a few words: its type and its first key names, never a value (a payload's claims may be personal). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const keys = Object.keys(value);
  const shown = keys.slice(0, MAX_KEYS).map((k) => (k.length > MAX_KEY_LENGTH ? `${k.slice(0, MAX_KEY_LENGTH)}…` : k));
  const list = `keys: ${shown.join(', ')}${keys.length > MAX_KEYS ? `, … (${keys.length} keys)` : ''}`;
  if (keys.some((k) => JWT_CLAIMS.has(k))) return `a decoded JWT payload (${list}), as express-jwt sets`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  const kind = Array.isArray(value) ? 'an array' : typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'an object';
  return keys.length === 0 ? `${kind} with no keys` : `${kind} (${list})`;
}

/** The 500 a guard (or ready endpoint) hands to `next` when it finds no verdict of this package's. */
export function missingMiddleware(found: unknown, where: string): TypeError {
  if (found === undefined || isAuthContextLike(found)) {
    return configError(`mount principal(...) with app.use() before ${where}`);
  }
  return configError(`req.auth holds ${describeValue(found)}, not principal()'s: another middleware replaced it, `
    + `or principal() did not run for this request. Mount principal(...) with app.use() before ${where}, and ${FIX}`);
}

/** principal() instances (their Setup) that already warned, one set per direction. */
const warnedAfter = new WeakSet<object>();
const warnedBefore = new WeakSet<object>();

/** Guards still work (they read principal()'s own copy), but route code reading `req.auth` gets the other value. */
export function warnReplacedAfter(found: unknown, instance: object): void {
  if (warnedAfter.has(instance)) return;
  warnedAfter.add(instance);
  process.emitWarning(
    `express-principal: req.auth was replaced after principal() ran; it now holds ${describeValue(found)}. `
      + 'Guards and req.principal still work, but route code calling req.auth.login() / logout() or reading req.auth.error gets the other value: '
      + FIX,
    { type: 'ExpressPrincipalWarning', code: FOREIGN_REQ_AUTH },
  );
}

/** principal() took `req.auth` over from a middleware mounted before it, whose routes read that value. */
export function warnReplacedBefore(found: unknown, instance: object): void {
  if (warnedBefore.has(instance) || found === undefined || isAuthContextLike(found)) return;
  warnedBefore.add(instance);
  process.emitWarning(
    `express-principal: principal() replaced a req.auth set by a middleware mounted before it (${describeValue(found)}); `
      + `route code reading that value now gets principal()'s req.auth: ${FIX}`,
    { type: 'ExpressPrincipalWarning', code: FOREIGN_REQ_AUTH },
  );
}
