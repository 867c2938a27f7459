import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Identity, Principal, RevocationReceipt, Strategy } from './types';
import { AuthError, type ListenerError } from './errors';
import type { RoleHierarchy } from './roles';
import { refreshHandler, type RefreshedEvent, type RefreshPrincipalOptions, type RehydratedEvent, type RevokedReason } from './freshness';
import type { Precedence } from './multi';
import type { MigrationOutcome } from './migration';
import { attach, prepareExpress, type Slot } from './request-slot';
import { logoutHandler } from './endpoints';
import { resolveSetup } from './setup';
import { RequestAuth } from './request-auth';
import { identify, type Outcome } from './identify';
import { close, jwksHandler, revokeAll, update } from './admin';
import { receiptFor, sessionsAdmin, type ReceiptOptions, type SessionEvent, type SessionRevokedEvent, type SessionsAdmin } from './sessions';
import type { DeviceOptions } from './state/device';

/** Options of `principal()`: the strategies, and how guards answer. Unknown keys are refused at start-up. */
export interface PrincipalOptions {
  /**
   * The strategy (or several: the first whose credential is present wins, bearer headers before cookies
   * unless `precedence: 'listed'`). Two credentials of different strategies naming different subjects: 400 ERR_CREDENTIAL_CONFLICT.
   * `req.auth.login()` issues with the first strategy (or `login(identity, { strategy: name })`).
   */
  strategy: Strategy | Strategy[];
  /** Which present credential wins. @default 'header-first' (see lib/multi.ts) */
  precedence?: Precedence;
  /**
   * The strategy users are moving away from: its credentials are still accepted, and each is answered
   * with a credential of `strategy[0]` (same login path, `authenticatedAt` kept) and then ended (lib/migration.ts).
   */
  migrateFrom?: Strategy | Strategy[];
  /** `'respond'` answers guard failures with problem+json; `'next'` hands the `AuthError` to your error handler. @default 'respond' */
  onError?: 'respond' | 'next';
  /** `{ admin: ['editor'], editor: ['viewer'] }` makes requireRole('viewer') pass for an admin. */
  roleHierarchy?: RoleHierarchy;
  /** Origins allowed to send unsafe requests with cookie credentials (besides the app's own). */
  trustedOrigins?: string[];
  /** Authorization header values longer than this are refused (431) before any decoding. @default 8192 */
  maxCredentialBytes?: number;
  /** `realm` of RFC 6750 challenges. @default 'api' */
  realm?: string;
  /** Reload roles/scopes/claims older than `maxAge` (single-flight per subject) and re-issue the credential (lib/freshness.ts). */
  refreshPrincipal?: RefreshPrincipalOptions;
  /** What a session keeps of the device that logged in (user-agent summary, client address); `false` keeps nothing. */
  devices?: DeviceOptions | false;
  /** Most live sessions one subject may hold; what happens at the limit is `onSessionLimit`. @default unlimited */
  maxSessionsPerSubject?: number;
  /** At the limit: end the oldest sessions, or refuse the new login (409 ERR_SESSION_LIMIT). @default 'revoke-oldest' */
  onSessionLimit?: 'revoke-oldest' | 'refuse';
}

/**
 * Typed events for logs and metrics; never carry a raw credential. A listener that throws or returns a
 * rejected promise changes no answer and crashes nothing: it is reported as an `error` event.
 */
export interface PrincipalEvents {
  /** A request carried a valid credential. */
  authenticated: [principal: Principal];
  /** `strategy`: the one whose credential was refused; `null` when refused before any strategy read it (ERR_CREDENTIAL_TOO_LARGE). */
  rejected: [code: AuthError['code'], strategy: Strategy['name'] | null];
  /** `req.auth.login()` issued a credential. */
  login: [principal: {
    /** The subject. */
    id: string;
    /** The new session id or `jti`. */
    sessionId: string | null;
  }];
  /** `req.auth.logout()` (or `logoutHandler()`) ended a credential. */
  logout: [principal: {
    /** The subject. */
    id: string;
    /** The ended session id or `jti`. */
    sessionId: string | null;
  }];
  /** `reason`: 'revokeAll', 'gone' (refreshPrincipal.load returned null), 'refresh-reused' (theft detected). */
  revoked: [subject: string, reason: RevokedReason];
  /** A refresh token was rotated for a new access credential. */
  refreshed: [event: RefreshedEvent];
  /** `refreshPrincipal` reloaded a principal's roles/scopes/claims. */
  rehydrated: [event: RehydratedEvent];
  /** A user moved from a `migrateFrom` strategy to the primary one (or failed to: `error` set, old credential kept). */
  migrated: [outcome: MigrationOutcome];
  /** A session was stored at login (its handle, device, address; never a credential). */
  sessionCreated: [event: SessionEvent];
  /** A session was ended by `sessions.revoke`, `revokeSession`, `logoutOthers`, `revokeOthers` or the session limit. */
  sessionRevoked: [event: SessionRevokedEvent];
  /** A listener failed (`error.event` names its event, `error.cause` what it threw). Without an `error` listener: `process.emitWarning(error)`. */
  error: [error: ListenerError];
}

/**
 * What `principal()` returns: the Express middleware (mount it with `app.use()`) plus the admin API of the
 * strategies it was given.
 */
export interface PrincipalMiddleware extends RequestHandler {
  /** Ends every session of a subject ("log out everywhere"). */
  revokeAll(subject: string): Promise<void>;
  /** The same, resolving to a receipt: how many live instances had applied it, of how many, within how many ms. */
  revokeAll(subject: string, options: ReceiptOptions): Promise<RevocationReceipt>;
  /** Changes roles/scopes/claims of a subject's live sessions; resolves to how many changed. */
  update(subject: string, patch: Partial<Omit<Identity, 'id'>>): Promise<number>;
  /** A subject's sessions and devices: list them, end one (NotSupportedError without server-side session state). */
  readonly sessions: SessionsAdmin;
  /** Express handler serving the public keys as a JWKS (mount at /.well-known/jwks.json). */
  jwks(): RequestHandler;
  /** Ready refresh endpoint (POST): rotates the refresh token, answers `{ token, expiresAt, refreshToken? }`. */
  refreshHandler(): RequestHandler;
  /**
   * Ready logout endpoint (POST, 204): ends the access token and the refresh family of the refresh cookie or body.
   * Mount it under `refresh.cookiePath` (e.g. `/auth/refresh/logout`), where the refresh cookie is sent.
   */
  logoutHandler(): RequestHandler;
  /** A listener that throws or returns a rejected promise is reported as `error`; it never changes the answer. */
  on<E extends keyof PrincipalEvents>(event: E, listener: (...args: PrincipalEvents[E]) => unknown): PrincipalMiddleware;
  /** Removes a listener added with `on()`. */
  off<E extends keyof PrincipalEvents>(event: E, listener: (...args: PrincipalEvents[E]) => unknown): PrincipalMiddleware;
  /** Releases timers and subscriptions the middleware owns (never your Redis client). */
  close(): Promise<void>;
}

/**
 * The middleware factory: identifies every request (`req.principal`, `req.auth`), never blocks by itself.
 * @example
 * const auth = principal({ strategy: statelessJwt({ secret, issuer: 'auth', audience: 'api' }) });
 * app.use(auth);
 * app.get('/me', requireAuth(), (req, res) => res.json(req.principal));
 */
export function principal(options: PrincipalOptions): PrincipalMiddleware {
  const setup = resolveSetup(options);
  prepareExpress();
  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    const ctx = new RequestAuth(setup, req, res);
    const slot = attach(req, res, ctx, setup);
    let outcome: Outcome;
    try {
      outcome = identify(ctx);
    } catch (err) {
      return refuse(ctx, slot, err, next);
    }
    if (outcome instanceof Promise) outcome.then((p) => admit(ctx, slot, p, next), (err: unknown) => refuse(ctx, slot, err, next));
    else admit(ctx, slot, outcome, next);
  }) as PrincipalMiddleware;
  const { events } = setup;
  middleware.revokeAll = (async (subject: string, options?: ReceiptOptions) => {
    const marks = await revokeAll(setup, subject);
    if (options?.receipt === true) return receiptFor(marks, options, null);
  }) as PrincipalMiddleware['revokeAll'];
  middleware.update = (subject, patch) => update(setup, subject, patch);
  (middleware as { sessions: SessionsAdmin }).sessions = sessionsAdmin(setup);
  middleware.jwks = () => jwksHandler(setup);
  middleware.refreshHandler = () => refreshHandler();
  middleware.logoutHandler = () => logoutHandler();
  middleware.on = (event, listener) => { events.on(event, listener); return middleware; };
  middleware.off = (event, listener) => { events.off(event, listener); return middleware; };
  middleware.close = () => close(setup);
  return middleware;
}

function setPrincipal(ctx: RequestAuth, slot: Slot | null, principal: Principal | null): void {
  if (slot !== null) slot.principal = principal;
  else ctx.req.principal = principal;
}

function admit(ctx: RequestAuth, slot: Slot | null, found: { readonly principal: Principal } | null, next: NextFunction): void {
  if (found !== null) {
    const { principal } = found;
    ctx.used = ctx.tried;
    setPrincipal(ctx, slot, principal);
    const { events } = ctx.setup;
    if (events.listenerCount('authenticated') > 0) events.emit('authenticated', principal);
  }
  next();
}

function refuse(ctx: RequestAuth, slot: Slot | null, err: unknown, next: NextFunction): void {
  setPrincipal(ctx, slot, null);
  // Not a verdict on the credential but a bug: Express answers it (500), never as anonymous or as an outage.
  if (!(err instanceof AuthError)) return next(err);
  ctx.error = err;
  const { events } = ctx.setup;
  if (events.listenerCount('rejected') > 0) events.emit('rejected', err.code, ctx.tried?.name ?? null);
  next();
}
