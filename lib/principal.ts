import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Authenticated, CarrierKind, Identity, Issued, Principal, Strategy } from './types';
import { AuthError, CredentialTooLargeError, CsrfError, NotSupportedError, configError, type ListenerError } from './errors';
import { Listeners } from './listeners';
import { DEFAULT_MAX_CREDENTIAL_BYTES } from './carriers/header';
import { isCrossSite } from './carriers/csrf';
import { resolveHierarchy, type RoleHierarchy } from './roles';
import { INTERNALS, type AuthContext, type Internals } from './context';
import { freshness, refreshHandler, reuseSubject, type RefreshedEvent, type RefreshPrincipalOptions, type RehydratedEvent, type RevokedReason } from './freshness';
import { authenticateWinner, checkPrecedence, presentCredentials, refuseConflicts, type Precedence } from './multi';
import { checkMigrateFrom, migrate, type MigrationOutcome } from './migration';
import { attach, prepareExpress, type Slot } from './request-slot';
import { logoutHandler } from './endpoints';
import { checkOptions } from './option-keys';

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
  checkOptions('principal', options);
  const strategies = Array.isArray(options?.strategy) ? options.strategy : options?.strategy ? [options.strategy] : [];
  if (strategies.length === 0 || strategies.some((s) => typeof s?.authenticate !== 'function')) {
    throw configError('principal() needs `strategy`: statelessJwt(...), statefulJwt(...) or sessionCookie(...) (or a list of them)');
  }
  const onError = options.onError ?? 'respond';
  if (onError !== 'respond' && onError !== 'next') throw configError("onError must be 'respond' or 'next'");
  const maxBytes = options.maxCredentialBytes ?? DEFAULT_MAX_CREDENTIAL_BYTES;
  prepareExpress();
  const trusted = new Set(options.trustedOrigins ?? []);
  const effectiveRoles = resolveHierarchy(options.roleHierarchy);
  const realm = options.realm ?? 'api';
  const primary = strategies[0] as Strategy;
  const precedence = checkPrecedence(options.precedence);
  const legacy = checkMigrateFrom(options.migrateFrom, strategies);
  const acceptsHeader = strategies.some((s) => s.carriers.includes('header'));
  const usesCookie = strategies.some((s) => s.carriers.includes('cookie'));
  const events = new Listeners<PrincipalEvents>();
  const fresh = options.refreshPrincipal === undefined ? null : freshness(options.refreshPrincipal, {
    rehydrated: (e) => events.emit('rehydrated', e),
    revoked: (subject, reason) => events.emit('revoked', subject, reason),
  });

  function refuseCrossSite(req: Request): void {
    if (usesCookie && isCrossSite(req, trusted)) throw new CsrfError();
  }

  async function identify(req: Request, res: Response, state: RequestAuth, setResult: (p: Principal | null, s: Strategy | null) => void): Promise<void> {
    const header = req.headers.authorization;
    if (typeof header === 'string' && header.length > maxBytes) throw new CredentialTooLargeError();
    const found = presentCredentials(req, strategies, legacy, precedence);
    if (found[0] === undefined) return;
    state.carrier = found[0].carrier;
    state.bearer = found[0].carrier === 'header';
    // Answerable for a refusal: the first credential's strategy, then the one that authenticated (a
    // migrateFrom fallback), whose credential a conflict or a rehydration may still refuse.
    state.tried = found[0].strategy;
    // A cookie sent by another site's form is ambient authority, not intent: ignore it (refuseCrossSite).
    const picked = await authenticateWinner(req, res, found, () => refuseCrossSite(req));
    if (picked === null || picked.result === null) return;
    const { winner: first, result, others } = picked;
    const strategy = first.strategy;
    state.tried = strategy;
    if (others.length > 0) await refuseConflicts(req, res, result, others, usesCookie && isCrossSite(req, trusted));
    if (first.legacy) {
      const outcome = await migrate(req, res, strategy, primary, result.principal);
      if (events.listenerCount('migrated') > 0) events.emit('migrated', outcome);
    }
    setResult(result.principal, strategy);
    if (fresh) setResult(await fresh.ensure(req, res, strategy, result.principal), strategy);
  }

  /** Per-request `req.auth`: one small object whose methods live on the prototype (this runs on every request). */
  class RequestAuth implements AuthContext, Internals {
    error: AuthError | null = null;
    carrier: CarrierKind | null = null;
    bearer = acceptsHeader;
    used: Strategy | null = null;
    /** The strategy whose credential is being authenticated (named by `rejected`). */
    tried: Strategy | null = null;
    constructor(private readonly req: Request, private readonly res: Response) {}
    get [INTERNALS](): Internals { return this; }
    get realm() { return realm; }
    get onError() { return onError; }
    effectiveRoles(roles: readonly string[]) { return effectiveRoles(roles); }
    get strategy() { return this.used?.name ?? null; }
    login(identity: Identity, loginOptions?: { strategy?: Strategy['name'] }): Promise<Issued> {
      const { req, res } = this;
      return act(async () => {
        refuseCrossSite(req);
        const issuer = loginOptions?.strategy === undefined ? primary : strategies.find((s) => s.name === loginOptions.strategy);
        if (issuer === undefined) throw configError(`login(): no strategy named '${String(loginOptions?.strategy)}' in principal({ strategy })`);
        // The store could not say whose session this request carries: rotating it blind would leave the old
        // owner's index stale, and asking the same store again would double the wait for the 503.
        if (this.error?.code === 'ERR_STORE_UNAVAILABLE' && issuer.sessionState !== undefined) throw this.error;
        const issued: Issued = await issuer.login(req, res, identity, req.principal);
        res.setHeader('Cache-Control', 'no-store');
        events.emit('login', { id: identity.id, sessionId: issued.sessionId });
        return issued;
      });
    }
    logout(): Promise<void> {
      const { req, res } = this;
      return act(async () => {
        // A bearer header is not ambient authority: only a cookie-carried logout can be forged cross-site.
        if (this.carrier !== 'header') refuseCrossSite(req);
        // The store could not say whose session this is: ending nothing and answering 2xx would fail open.
        if (this.error !== null && this.error.status === 503) throw this.error;
        const who = req.principal;
        await (this.used ?? primary).logout(req, res, who);
        res.setHeader('Cache-Control', 'no-store');
        if (who) events.emit('logout', { id: who.id, sessionId: who.sessionId });
      });
    }
    refresh(): Promise<Issued> {
      const { req, res } = this;
      return act(async () => {
        // The refresh token may come from a cookie: a cross-site POST is never a refresh.
        if (isCrossSite(req, trusted)) throw new CsrfError();
        const strategy = strategies.find((s) => s.refresh !== undefined);
        if (!strategy?.refresh) throw new NotSupportedError('refresh tokens need statelessJwt({ refresh: { store } })');
        try {
          let subject = '';
          const issued = await strategy.refresh(req, res, (snapshot) => {
            subject = snapshot.id;
            return fresh ? fresh.load(snapshot.id) : Promise.resolve(snapshot);
          });
          events.emit('refreshed', { id: subject, strategy: strategy.name, sessionId: issued.sessionId, expiresAt: issued.expiresAt });
          return issued;
        } catch (err) {
          const subject = reuseSubject(err);
          if (subject !== null) events.emit('revoked', subject, 'refresh-reused');
          if (err instanceof AuthError && events.listenerCount('rejected') > 0) events.emit('rejected', err.code, strategy.name);
          throw err;
        }
      });
    }
  }

  function setPrincipal(req: Request, slot: Slot | null, principal: Principal | null): void {
    if (slot !== null) slot.principal = principal;
    else req.principal = principal;
  }

  function accept(req: Request, slot: Slot | null, ctx: RequestAuth, result: Authenticated | null, strategy: Strategy, next: NextFunction): void {
    if (result !== null) {
      setPrincipal(req, slot, result.principal);
      ctx.used = strategy;
      if (events.listenerCount('authenticated') > 0) events.emit('authenticated', result.principal);
    }
    next();
  }

  function reject(req: Request, slot: Slot | null, ctx: RequestAuth, err: unknown, next: NextFunction): void {
    setPrincipal(req, slot, null);
    // Not a verdict on the credential but a bug: Express answers it (500), never as anonymous or as an outage.
    if (!(err instanceof AuthError)) return next(err);
    ctx.error = err;
    if (events.listenerCount('rejected') > 0) events.emit('rejected', err.code, ctx.tried?.name ?? null);
    next();
  }

  // One strategy, no migration, no rehydration: the common case, without the candidate lists (and
  // without a promise when the strategy answers synchronously, e.g. a cached token).
  const simple = strategies.length === 1 && legacy.length === 0 && fresh === null;

  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    const ctx = new RequestAuth(req, res);
    const slot = attach(req, res, ctx);
    if (!simple) {
      identify(req, res, ctx, (p, s) => { setPrincipal(req, slot, p); ctx.used = s; }).then(
        () => {
          if (req.principal && events.listenerCount('authenticated') > 0) events.emit('authenticated', req.principal);
          next();
        },
        (err: unknown) => reject(req, slot, ctx, err, next),
      );
      return;
    }
    let result: Authenticated | null | Promise<Authenticated | null>;
    try {
      const header = req.headers.authorization;
      if (typeof header === 'string' && header.length > maxBytes) throw new CredentialTooLargeError();
      const carrier = primary.present(req);
      if (carrier === null) return next();
      ctx.tried = primary;
      ctx.carrier = carrier;
      ctx.bearer = carrier === 'header';
      // A cookie sent by another site's form is ambient authority, not intent: ignore it.
      if (carrier === 'cookie') refuseCrossSite(req);
      result = primary.authenticate(req, res);
    } catch (err) {
      return reject(req, slot, ctx, err, next);
    }
    if (result instanceof Promise) {
      result.then((r) => accept(req, slot, ctx, r, primary, next), (err: unknown) => reject(req, slot, ctx, err, next));
    } else {
      accept(req, slot, ctx, result, primary, next);
    }
  }) as PrincipalMiddleware;

  // Failures reach the caller as they are: AuthErrors are verdicts, anything else is a bug (never a 503).
  function act<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  /** One strategy per shared session state: every session of a subject is reached once. */
  const distinct = (list: readonly Strategy[]) => list.filter((s, i) => s.sessionState === undefined || list.findIndex((t) => t.sessionState === s.sessionState) === i);
  middleware.revokeAll = async (subject) => {
    const all = distinct([...strategies, ...legacy]);
    await Promise.all(all.map((s) => s.revokeAll(subject).catch((err: unknown) => {
      if (!(err instanceof AuthError && err.code === 'ERR_NOT_SUPPORTED') || all.length === 1) throw err;
    })));
    events.emit('revoked', subject, 'revokeAll');
  };
  middleware.update = async (subject, patch) => {
    let changed = 0;
    for (const s of distinct([...strategies, ...legacy])) {
      // migrateFrom sessions live on until they move, so they are changed too; a stateless one has nothing to change.
      const legacyOne = legacy.includes(s);
      changed += await s.update(subject, patch).catch((err: unknown) => {
        if (legacyOne && err instanceof AuthError && err.code === 'ERR_NOT_SUPPORTED') return 0;
        throw err;
      });
    }
    return changed;
  };
  middleware.jwks = () => {
    const source = strategies.find((s) => s.publicJwks !== undefined);
    return (_req, res) => {
      const body = source?.publicJwks?.() ?? { keys: [] };
      res.setHeader('Cache-Control', 'public, max-age=300, stale-while-revalidate=60');
      res.type('application/jwk-set+json').send(JSON.stringify(body));
    };
  };
  middleware.refreshHandler = () => refreshHandler();
  middleware.logoutHandler = () => logoutHandler();
  middleware.on = (event, listener) => { events.on(event, listener); return middleware; };
  middleware.off = (event, listener) => { events.off(event, listener); return middleware; };
  middleware.close = async () => {
    events.clear();
    await Promise.all([...strategies, ...legacy].map((s) => s.close()));
  };
  return middleware;
}
