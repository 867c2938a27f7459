import { EventEmitter } from 'node:events';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { CarrierKind, Identity, Issued, Principal, Strategy } from './types';
import { AuthError, CredentialTooLargeError, CsrfError, NotSupportedError, configError, toAuthError } from './errors';
import { DEFAULT_MAX_CREDENTIAL_BYTES } from './carriers/header';
import { isCrossSite } from './carriers/csrf';
import { resolveHierarchy, type RoleHierarchy } from './roles';
import { internals, type AuthContext, type Internals } from './context';
import { freshness, refreshHandler, reuseSubject, type RefreshedEvent, type RefreshPrincipalOptions, type RehydratedEvent, type RevokedReason } from './freshness';

export interface PrincipalOptions {
  /** The strategy (or several, tried in order: the first whose credential is present wins). */
  strategy: Strategy | Strategy[];
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

/** Typed events for logs and metrics; never carry a raw credential. */
export interface PrincipalEvents {
  authenticated: [principal: Principal];
  rejected: [code: AuthError['code'], strategy: Strategy['name'] | null];
  login: [principal: { id: string; sessionId: string | null }];
  logout: [principal: { id: string; sessionId: string | null }];
  /** `reason`: 'revokeAll', 'gone' (refreshPrincipal.load returned null), 'refresh-reused' (theft detected). */
  revoked: [subject: string, reason: RevokedReason];
  refreshed: [event: RefreshedEvent];
  rehydrated: [event: RehydratedEvent];
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
  on<E extends keyof PrincipalEvents>(event: E, listener: (...args: PrincipalEvents[E]) => void): PrincipalMiddleware;
  off<E extends keyof PrincipalEvents>(event: E, listener: (...args: PrincipalEvents[E]) => void): PrincipalMiddleware;
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
  const strategies = Array.isArray(options?.strategy) ? options.strategy : options?.strategy ? [options.strategy] : [];
  if (strategies.length === 0 || strategies.some((s) => typeof s?.authenticate !== 'function')) {
    throw configError('principal() needs `strategy`: statelessJwt(...), statefulJwt(...) or sessionCookie(...) (or a list of them)');
  }
  const onError = options.onError ?? 'respond';
  if (onError !== 'respond' && onError !== 'next') throw configError("onError must be 'respond' or 'next'");
  const maxBytes = options.maxCredentialBytes ?? DEFAULT_MAX_CREDENTIAL_BYTES;
  const trusted = new Set(options.trustedOrigins ?? []);
  const effectiveRoles = resolveHierarchy(options.roleHierarchy);
  const realm = options.realm ?? 'api';
  const primary = strategies[0] as Strategy;
  const acceptsHeader = strategies.some((s) => s.carriers.includes('header'));
  const usesCookie = strategies.some((s) => s.carriers.includes('cookie'));
  const events = new EventEmitter();
  const fresh = options.refreshPrincipal === undefined ? null : freshness(options.refreshPrincipal, {
    rehydrated: (e) => events.emit('rehydrated', e),
    revoked: (subject, reason) => events.emit('revoked', subject, reason),
  });

  function refuseCrossSite(req: Request): void {
    if (usesCookie && isCrossSite(req, trusted)) throw new CsrfError();
  }

  async function identify(req: Request, res: Response, state: Internals, setResult: (p: Principal | null, s: Strategy | null) => void): Promise<void> {
    const header = req.headers.authorization;
    if (typeof header === 'string' && header.length > maxBytes) throw new CredentialTooLargeError();
    let strategy: Strategy | undefined;
    let carrier: CarrierKind | null = null;
    for (const candidate of strategies) {
      carrier = candidate.present(req);
      if (carrier !== null) { strategy = candidate; break; }
    }
    if (strategy === undefined) return;
    state.carrier = carrier;
    state.bearer = carrier === 'header';
    // A cookie sent by another site's form is ambient authority, not intent: ignore it.
    if (carrier === 'cookie') refuseCrossSite(req);
    const result = await strategy.authenticate(req, res);
    if (result === null) return;
    setResult(result.principal, strategy);
    if (fresh) setResult(await fresh.ensure(req, res, strategy, result.principal), strategy);
  }

  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    const state: Internals = { error: null, carrier: null, bearer: acceptsHeader, realm, onError, effectiveRoles };
    let current: Strategy | null = null;
    const context: AuthContext = {
      get error() { return state.error; },
      get strategy() { return current?.name ?? null; },
      login: (identity) => act(req, async () => {
        refuseCrossSite(req);
        const issued: Issued = await primary.login(req, res, identity, req.principal);
        res.setHeader('Cache-Control', 'no-store');
        events.emit('login', { id: identity.id, sessionId: issued.sessionId });
        return issued;
      }),
      logout: () => act(req, async () => {
        refuseCrossSite(req);
        const who = req.principal;
        await (current ?? primary).logout(req, res, who);
        res.setHeader('Cache-Control', 'no-store');
        if (who) events.emit('logout', { id: who.id, sessionId: who.sessionId });
      }),
      refresh: () => act(req, async () => {
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
      }),
    };
    req.principal = null;
    req.auth = context;
    internals.set(req, state);
    identify(req, res, state, (p, s) => { req.principal = p; current = s; }).then(
      () => {
        if (req.principal && events.listenerCount('authenticated') > 0) events.emit('authenticated', req.principal);
        next();
      },
      (err: unknown) => {
        req.principal = null;
        state.error = toAuthError(err);
        if (events.listenerCount('rejected') > 0) events.emit('rejected', state.error.code, current?.name ?? null);
        next();
      },
    );
  }) as PrincipalMiddleware;

  async function act<T>(_req: Request, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw err instanceof TypeError ? err : toAuthError(err);
    }
  }

  middleware.revokeAll = async (subject) => {
    await Promise.all(strategies.map((s) => s.revokeAll(subject).catch((err: unknown) => {
      if (!(err instanceof AuthError && err.code === 'ERR_NOT_SUPPORTED') || strategies.length === 1) throw toAuthError(err);
    })));
    events.emit('revoked', subject, 'revokeAll');
  };
  middleware.update = async (subject, patch) => {
    let changed = 0;
    for (const s of strategies) changed += await s.update(subject, patch).catch((err: unknown) => { throw toAuthError(err); });
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
  middleware.on = (event, listener) => { events.on(event, listener as (...args: unknown[]) => void); return middleware; };
  middleware.off = (event, listener) => { events.off(event, listener as (...args: unknown[]) => void); return middleware; };
  middleware.close = async () => {
    events.removeAllListeners();
    await Promise.all(strategies.map((s) => s.close()));
  };
  return middleware;
}
