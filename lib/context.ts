import type { Request } from 'express';
import type { AnyAuthError, AuthError } from './errors';
import type { CarrierKind, Identity, Issued, Principal, RevocationReceipt, SessionInfo, StrategyName } from './types';
import type { ReceiptOptions } from './sessions';

/** `req.auth`: what the middleware found, and the actions that change it. */
export interface AuthContext {
  /** Why the credential was refused (`req.principal` is then `null`); `null` when none was refused. */
  readonly error: AnyAuthError | null;
  /** The strategy that authenticated this request, if any. */
  readonly strategy: StrategyName | null;
  /**
   * Issues a new credential (new session id / token). Rejects with `CsrfError` on a cross-site request.
   * With several strategies the first one issues, unless `{ strategy: 'session-cookie' }` names another.
   */
  login(identity: Identity, options?: LoginOptions): Promise<Issued>;
  /**
   * Ends the current session: deletes or revokes server state and clears the cookie. With refresh tokens it also ends
   * the family of the refresh token the request carries (cookie, or `req.body.refreshToken`), and rejects with
   * `LogoutIncompleteError` (401 ERR_LOGOUT_INCOMPLETE) when the request carries neither that nor a valid access token.
   */
  logout(): Promise<void>;
  /**
   * Rotates the refresh token (cookie, or `req.body.refreshToken`) and issues a new access token
   * (`statelessJwt({ refresh })`). Single-use: a replay after the grace window revokes the whole family (ERR_REFRESH_REUSED).
   */
  refresh(): Promise<Issued>;
  /** The caller's live sessions (devices), oldest first, with `current: true` on this one. 401 when anonymous. */
  sessions(): Promise<SessionInfo[]>;
  /** Ends one of the caller's own sessions by its handle; false when the caller has none with that handle. */
  revokeSession(handle: string): Promise<boolean>;
  /** Ends every other session of the caller ("log out other devices"); resolves to how many ended. */
  logoutOthers(): Promise<number>;
  /** The same, resolving to a receipt: how many live instances had applied it, of how many, within how many ms. */
  logoutOthers(options: ReceiptOptions): Promise<RevocationReceipt>;
}

/** Options of `req.auth.login()`. */
export interface LoginOptions {
  /** Which strategy issues (with several). @default the first */
  strategy?: StrategyName;
  /** End every other session of this subject once the new one is stored (e.g. after a password change). */
  revokeOthers?: boolean;
}

/** What guards need from the middleware that ran before them. */
export interface Internals {
  error: AuthError | null;
  carrier: CarrierKind | null;
  bearer: boolean;
  realm: string;
  onError: 'respond' | 'next';
  effectiveRoles(roles: readonly string[]): ReadonlySet<string>;
  /** The principal() this request went through (once-only warnings are per instance). */
  readonly instance: object;
}

/**
 * Where `req.auth` keeps what guards read (a symbol: not part of the public `AuthContext`). Deliberately not a
 * registered symbol (unlike the request slot, lib/request-slot.ts): a guard must never act on a verdict, realm or
 * role hierarchy set by another copy of the package; with one of its own it finds none there and fails closed.
 */
export const INTERNALS: unique symbol = Symbol('express-principal.internals');

export const internals = {
  /** From `req.auth`, or from the object that holds it (lib/request-slot.ts). */
  get(holder: Request | { auth: AuthContext | undefined }): Internals | undefined {
    return internals.of((holder as { auth?: unknown }).auth);
  },
  /** From a value that should be this package's `req.auth`; undefined for anything else. */
  of(auth: unknown): Internals | undefined {
    return typeof auth === 'object' && auth !== null ? (auth as { [INTERNALS]?: Internals })[INTERNALS] : undefined;
  },
};

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Who is calling: set by `principal()` on every request; `null` when anonymous. */
      principal: Principal | null;
      /** Login/logout and the reason a credential was refused. */
      auth: AuthContext;
    }
  }
}
