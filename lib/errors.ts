/** Every stable error code express-principal answers with. */
export type AuthErrorCode =
  | 'ERR_AUTH_REQUIRED'
  | 'ERR_INVALID_CREDENTIAL'
  | 'ERR_CREDENTIAL_EXPIRED'
  | 'ERR_CREDENTIAL_REVOKED'
  | 'ERR_REFRESH_REUSED'
  | 'ERR_LOGOUT_INCOMPLETE'
  | 'ERR_MALFORMED_REQUEST'
  | 'ERR_CREDENTIAL_TOO_LARGE'
  | 'ERR_CREDENTIAL_CONFLICT'
  | 'ERR_LOGIN_REQUIRED'
  | 'ERR_CSRF'
  | 'ERR_FORBIDDEN'
  | 'ERR_INSUFFICIENT_SCOPE'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_KEYS_UNAVAILABLE'
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_SESSION_LIMIT';

const STATUS: Record<AuthErrorCode, number> = {
  ERR_AUTH_REQUIRED: 401,
  ERR_INVALID_CREDENTIAL: 401,
  ERR_CREDENTIAL_EXPIRED: 401,
  ERR_CREDENTIAL_REVOKED: 401,
  ERR_REFRESH_REUSED: 401,
  ERR_LOGOUT_INCOMPLETE: 401,
  ERR_MALFORMED_REQUEST: 400,
  ERR_CREDENTIAL_TOO_LARGE: 431,
  ERR_CREDENTIAL_CONFLICT: 400,
  ERR_LOGIN_REQUIRED: 401,
  ERR_CSRF: 403,
  ERR_FORBIDDEN: 403,
  ERR_INSUFFICIENT_SCOPE: 403,
  ERR_STORE_UNAVAILABLE: 503,
  ERR_KEYS_UNAVAILABLE: 503,
  ERR_NOT_SUPPORTED: 501,
  ERR_SESSION_LIMIT: 409,
};

/**
 * Base class of every error express-principal produces. `status` makes Express's own error
 * handler answer with the right code; messages never contain a credential or a secret.
 * `err instanceof AuthError` narrows to `AnyAuthError`, so `switch (err.code)` narrows to the subclass.
 */
export class AuthError<C extends AuthErrorCode = AuthErrorCode> extends Error {
  /** The stable code (`ERR_...`) clients and logs can match on; the message may change, the code does not. */
  readonly code: C;
  /** The HTTP status the error answers with (401, 403, 503, ...), fixed by `code`. */
  readonly status: number;
  /** Headers the answer carries (for instance `WWW-Authenticate` or `Retry-After`). */
  readonly headers: Readonly<Record<string, string>>;
  /** What the client can do about it: the problem document's `detail` (RFC 9457), when there is one. */
  readonly detail: string | undefined;
  /** Used by the subclasses; an app throws one of them rather than a bare AuthError. */
  constructor(code: C, message: string, options?: { cause?: unknown; headers?: Record<string, string>; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = STATUS[code];
    this.headers = options?.headers ?? {};
    this.detail = options?.detail;
  }
  /** The same as `status`, under the name some error handlers read. */
  get statusCode(): number {
    return this.status;
  }
  /** Errors a client can fix by presenting a (new) credential: these get RFC 6750 `invalid_token`. */
  get isCredentialError(): boolean {
    return this.status === 401;
  }
  /**
   * The ordinary `instanceof` check; typed so that `instanceof AuthError` narrows to the union of the subclasses
   * (and `instanceof CsrfError` to CsrfError), which makes a `switch (err.code)` exhaustive.
   */
  static override [Symbol.hasInstance]<T>(this: abstract new (...args: never[]) => T, value: unknown): value is Extract<AnyAuthError, T> {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** 401: no credential on a protected route. */
export class AuthRequiredError extends AuthError<'ERR_AUTH_REQUIRED'> {
  constructor() { super('ERR_AUTH_REQUIRED', 'Authentication required'); }
}
/** One class for bad signature, unknown key, malformed token, unknown session: same status, same body. */
export class InvalidCredentialError extends AuthError<'ERR_INVALID_CREDENTIAL'> {
  constructor(cause?: unknown) { super('ERR_INVALID_CREDENTIAL', 'Invalid credential', { cause }); }
}
/** 401: `exp` passed, or the session's idle / absolute timeout. */
export class CredentialExpiredError extends AuthError<'ERR_CREDENTIAL_EXPIRED'> {
  constructor() { super('ERR_CREDENTIAL_EXPIRED', 'Credential expired'); }
}
/** 401: logged out, `revokeAll`ed, or its refresh family was revoked. */
export class CredentialRevokedError extends AuthError<'ERR_CREDENTIAL_REVOKED'> {
  constructor() { super('ERR_CREDENTIAL_REVOKED', 'Credential revoked'); }
}
/** A refresh token was presented again after its grace window: treated as theft, its whole family is revoked. */
export class RefreshReusedError extends AuthError<'ERR_REFRESH_REUSED'> {
  /** The subject whose refresh family was revoked (for logs; not part of the response). */
  readonly subject: string;
  constructor(subject: string) {
    super('ERR_REFRESH_REUSED', 'Refresh token reused; every session of this login was ended');
    this.subject = subject;
  }
}
/**
 * 401: a logout with refresh tokens configured that carries neither a valid access token nor the refresh token, so
 * no refresh family could be ended. Send the refresh credential (mount `auth.logoutHandler()` under the refresh
 * cookie's path; native clients send `refreshToken` in the body), or refresh and log out with the new access token.
 */
export class LogoutIncompleteError extends AuthError<'ERR_LOGOUT_INCOMPLETE'> {
  constructor() { super('ERR_LOGOUT_INCOMPLETE', 'Logout needs the refresh token or a valid access token; nothing was ended'); }
}
/** 400: a body express-principal parses itself (refresh, logout endpoints) is malformed. Never carries the body. */
export class MalformedRequestError extends AuthError<'ERR_MALFORMED_REQUEST'> {
  constructor() { super('ERR_MALFORMED_REQUEST', 'Malformed request body'); }
}
/** 431: the credential is over `maxCredentialBytes`; refused before any decoding. */
export class CredentialTooLargeError extends AuthError<'ERR_CREDENTIAL_TOO_LARGE'> {
  constructor() { super('ERR_CREDENTIAL_TOO_LARGE', 'Credential too large'); }
}
/** 400: two credentials on one request name different subjects. */
export class CredentialConflictError extends AuthError<'ERR_CREDENTIAL_CONFLICT'> {
  constructor() { super('ERR_CREDENTIAL_CONFLICT', 'More than one credential, and they disagree'); }
}
/** 401: `requireFreshLogin` and the last real login is too old; ask for the password again. */
export class LoginRequiredError extends AuthError<'ERR_LOGIN_REQUIRED'> {
  constructor() { super('ERR_LOGIN_REQUIRED', 'A recent login is required'); }
}
/** 403: an unsafe cross-site request carrying a cookie credential (or a cross-site login / logout / refresh). */
export class CsrfError extends AuthError<'ERR_CSRF'> {
  /** `detail`: which origin was refused and which option admits it (lib/carriers/csrf.ts). */
  constructor(detail?: string) { super('ERR_CSRF', 'Cross-site request refused', detail === undefined ? undefined : { detail }); }
}
/** 403: authenticated, but lacking a role or failing an `allow()` predicate. */
export class ForbiddenError extends AuthError<'ERR_FORBIDDEN'> {
  constructor() { super('ERR_FORBIDDEN', 'Forbidden'); }
}
/** 403: authenticated, but lacking a scope (`WWW-Authenticate: Bearer error="insufficient_scope"`). */
export class InsufficientScopeError extends AuthError<'ERR_INSUFFICIENT_SCOPE'> {
  /** The scopes the route requires (also named in the `WWW-Authenticate` header). */
  readonly scopes: readonly string[];
  constructor(scopes: readonly string[]) {
    super('ERR_INSUFFICIENT_SCOPE', 'Insufficient scope');
    this.scopes = scopes;
  }
}
/** 503 + `Retry-After`: the store did not answer in time. Fail closed: never anonymous. */
export class StoreUnavailableError extends AuthError<'ERR_STORE_UNAVAILABLE'> {
  constructor(cause?: unknown, retryAfterSeconds = 1) {
    super('ERR_STORE_UNAVAILABLE', 'Authentication store unavailable', {
      cause,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
/**
 * 503 + `Retry-After`: the issuer's JWKS could not be fetched and no fetched set is usable (`jwksUri`). Fail closed.
 * `Retry-After` is the time left until the verifier asks the issuer again (`jwks.cooldown`).
 */
export class KeysUnavailableError extends AuthError<'ERR_KEYS_UNAVAILABLE'> {
  constructor(cause?: unknown, retryAfterSeconds = 1) {
    super('ERR_KEYS_UNAVAILABLE', 'Verification keys unavailable', {
      cause,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
/** 501: the strategy cannot do this (e.g. `revokeAll` on a stateless strategy with no store). */
export class NotSupportedError extends AuthError<'ERR_NOT_SUPPORTED'> {
  constructor(message: string) { super('ERR_NOT_SUPPORTED', message); }
}

/** 409: the subject already has `maxSessionsPerSubject` sessions and `onSessionLimit` is `'refuse'`. */
export class SessionLimitError extends AuthError<'ERR_SESSION_LIMIT'> {
  /** The `maxSessionsPerSubject` reached. */
  readonly limit: number;
  constructor(limit: number) {
    super('ERR_SESSION_LIMIT', `This account already has ${limit} sessions: end one before logging in again`);
    this.limit = limit;
  }
}

/** Every error class a request can end with; `switch (err.code)` on it narrows to the class. */
export type AnyAuthError =
  | AuthRequiredError
  | InvalidCredentialError
  | CredentialExpiredError
  | CredentialRevokedError
  | RefreshReusedError
  | LogoutIncompleteError
  | MalformedRequestError
  | CredentialTooLargeError
  | CredentialConflictError
  | LoginRequiredError
  | CsrfError
  | ForbiddenError
  | InsufficientScopeError
  | StoreUnavailableError
  | KeysUnavailableError
  | NotSupportedError
  | SessionLimitError;

/** The language's own error classes: a bug (a property of undefined, an undefined name), never an outage. */
export function isProgrammingError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError
    || err instanceof SyntaxError || err instanceof EvalError || err instanceof URIError;
}

/**
 * What a rejection of the app's own data source (`refreshPrincipal.load`) means. Store adapters and the JWKS
 * source wrap their failures where they happen (StoreUnavailableError, KeysUnavailableError); a loader is the
 * app's code, so it is wrapped here: a programming error stays itself (500), anything else is its backend
 * failing (503 ERR_STORE_UNAVAILABLE, fail closed). Everything else that is not an AuthError is a bug.
 */
export function dataSourceFailure(err: unknown): unknown {
  return err instanceof AuthError || isProgrammingError(err) ? err : new StoreUnavailableError(err);
}

export function configError(message: string): TypeError {
  return new TypeError(`express-principal: ${message}`);
}

/**
 * A listener passed to `auth.on()` threw or returned a rejected promise. Never thrown: handed to `error`
 * listeners (or `process.emitWarning` when there are none), and the request is answered as if it had not happened.
 */
export class ListenerError extends Error {
  /** Stable code for logs: a listener of `auth.on(...)` threw or rejected. */
  readonly code = 'ERR_LISTENER_FAILED';
  /** The event whose listener failed. */
  readonly event: string;
  constructor(event: string, cause: unknown) {
    super(`express-principal: a '${event}' listener failed; the request was answered as if it had not`, { cause });
    this.name = 'ListenerError';
    this.event = event;
  }
}
