import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Identity, Principal, Strategy } from './types';
import { AuthError, type ListenerError } from './errors';
import type { RoleHierarchy } from './roles';
import { refreshHandler, type RefreshedEvent, type RefreshPrincipalOptions, type RehydratedEvent, type RevokedReason } from './freshness';
import type { Precedence } from './multi';
import type { MigrationOutcome } from './migration';
import { attach, prepareExpress, type Slot } from './request-slot';
import { logoutHandler } from './endpoints';
import { resolveSetup } from './setup';
import { RequestAuth } from './request-auth';
import { identify } from './identify';
import { close, jwksHandler, revokeAll, update } from './admin';

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
}

/**
 * Typed events for logs and metrics; never carry a raw credential. A listener that throws or returns a
 * rejected promise changes no answer and crashes nothing: it is reported as an `error` event.
 */
export interface PrincipalEvents {
  authenticated: [principal: Principal];
  /** `strategy`: the one whose credential was refused; `null` when refused before any strategy read it (ERR_CREDENTIAL_TOO_LARGE). */
  rejected: [code: AuthError['code'], strategy: Strategy['name'] | null];
  login: [principal: { id: string; sessionId: string | null }];
  logout: [principal: { id: string; sessionId: string | null }];
  /** `reason`: 'revokeAll', 'gone' (refreshPrincipal.load returned null), 'refresh-reused' (theft detected). */
  revoked: [subject: string, reason: RevokedReason];
  refreshed: [event: RefreshedEvent];
  rehydrated: [event: RehydratedEvent];
  /** A user moved from a `migrateFrom` strategy to the primary one (or failed to: `error` set, old credential kept). */
  migrated: [outcome: MigrationOutcome];
  /** A listener failed (`error.event` names its event, `error.cause` what it threw). Without an `error` listener: `process.emitWarning(error)`. */
  error: [error: ListenerError];
}

export interface PrincipalMiddleware extends RequestHandler {
  /** Ends every session of a subject ("log out everywhere"). */
  revokeAll(subject: string): Promise<void>;
  /** Changes roles/scopes/claims of a subject's live sessions; resolves to how many changed. */
  update(subject: string, patch: Partial<Omit<Identity, 'id'>>): Promise<number>;
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
    let outcome: Principal | null | Promise<Principal | null>;
    try {
      outcome = identify(ctx);
    } catch (err) {
      return refuse(ctx, slot, err, next);
    }
    if (outcome instanceof Promise) outcome.then((p) => admit(ctx, slot, p, next), (err: unknown) => refuse(ctx, slot, err, next));
    else admit(ctx, slot, outcome, next);
  }) as PrincipalMiddleware;
  const { events } = setup;
  middleware.revokeAll = (subject) => revokeAll(setup, subject);
  middleware.update = (subject, patch) => update(setup, subject, patch);
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

function admit(ctx: RequestAuth, slot: Slot | null, principal: Principal | null, next: NextFunction): void {
  if (principal !== null) {
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
