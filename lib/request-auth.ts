import type { Request, Response } from 'express';
import type { CarrierKind, Identity, Issued, RevocationReceipt, SessionInfo, Strategy } from './types';
import type { StrategyImpl } from './strategy';
import { AuthError, configError, NotSupportedError, type AnyAuthError } from './errors';
import { crossSiteError, isCrossSite } from './carriers/csrf';
import { INTERNALS, type AuthContext, type Internals, type LoginOptions } from './context';
import { admitLogin, afterLogin, logoutOthers, ownSessions, revokeOthers, revokeOwn, type ReceiptOptions } from './sessions';
import { reuseSubject } from './freshness';
import { refuseCrossSite, type Setup } from './setup';

/**
 * `req.auth`: one small object per request whose methods live on the prototype (it is built on every request).
 * It also holds what guards read (Internals): the verdict, where the credential came from, the realm.
 */
export class RequestAuth implements AuthContext, Internals {
  error: AnyAuthError | null = null;
  carrier: CarrierKind | null = null;
  bearer: boolean;
  used: StrategyImpl | null = null;
  /** The strategy whose credential is being authenticated (named by `rejected`). */
  tried: StrategyImpl | null = null;

  constructor(readonly setup: Setup, readonly req: Request, readonly res: Response) {
    this.bearer = setup.acceptsHeader;
  }

  get [INTERNALS](): Internals { return this; }
  get realm(): string { return this.setup.realm; }
  get instance(): object { return this.setup; }
  get onError(): 'respond' | 'next' { return this.setup.onError; }
  effectiveRoles(roles: readonly string[]): ReadonlySet<string> { return this.setup.effectiveRoles(roles); }
  get strategy(): Strategy['name'] | null { return this.used?.name ?? null; }

  // What the app awaits rejects as it failed: an AuthError is a verdict, anything else a bug (never a 503).
  login(identity: Identity, options?: LoginOptions): Promise<Issued> {
    return login(this, identity, options);
  }

  logout(): Promise<void> {
    return logout(this);
  }

  refresh(): Promise<Issued> {
    return refresh(this);
  }

  sessions(): Promise<SessionInfo[]> {
    return ownSessions(this.setup, this.req);
  }

  revokeSession(handle: string): Promise<boolean> {
    if (typeof handle !== 'string' || handle.length === 0) return Promise.reject(configError('revokeSession(handle): a handle from req.auth.sessions()'));
    return revokeOwn(this.setup, this.req, handle);
  }

  logoutOthers(): Promise<number>;
  logoutOthers(options: ReceiptOptions): Promise<RevocationReceipt>;
  logoutOthers(options?: ReceiptOptions): Promise<number | RevocationReceipt> {
    return logoutOthers(this.setup, this.req, options);
  }
}

async function login(ctx: RequestAuth, identity: Identity, options: LoginOptions | undefined): Promise<Issued> {
  const { setup, req, res } = ctx;
  const name = options?.strategy;
  refuseCrossSite(setup, req);
  const issuer = name === undefined ? setup.primary : setup.strategies.find((s) => s.name === name);
  if (issuer === undefined) throw configError(`login(): no strategy named '${String(name)}' in principal({ strategy })`);
  // The store could not say whose session this request carries: rotating it blind would leave the old
  // owner's index stale, and asking the same store again would double the wait for the 503.
  if (ctx.error?.code === 'ERR_STORE_UNAVAILABLE' && issuer.sessionState !== undefined) throw ctx.error;
  await admitLogin(setup, issuer, identity.id);
  const issued = await issuer.login(req, res, identity, req.principal, setup.devices.describe(req.get('user-agent'), req.ip));
  res.setHeader('Cache-Control', 'no-store');
  setup.events.emit('login', { id: identity.id, sessionId: issued.sessionId });
  const handle = await afterLogin(setup, issuer, identity.id, issued.handle);
  if (options?.revokeOthers === true) await revokeOthers(setup, identity.id, new Set(handle === null ? [] : [handle]));
  return issued;
}

async function logout(ctx: RequestAuth): Promise<void> {
  const { setup, req, res } = ctx;
  // A bearer header is not ambient authority: only a cookie-carried logout can be forged cross-site.
  if (ctx.carrier !== 'header') refuseCrossSite(setup, req);
  // The store could not say whose session this is: ending nothing and answering 2xx would fail open.
  if (ctx.error !== null && ctx.error.status === 503) throw ctx.error;
  const who = req.principal;
  await (ctx.used ?? setup.primary).logout(req, res, who);
  res.setHeader('Cache-Control', 'no-store');
  if (who) setup.events.emit('logout', { id: who.id, sessionId: who.sessionId });
}

async function refresh(ctx: RequestAuth): Promise<Issued> {
  const { setup, req, res } = ctx;
  // The refresh token may come from a cookie: a cross-site POST is never a refresh.
  if (isCrossSite(req, setup.trusted)) throw crossSiteError(req);
  const strategy = setup.strategies.find((s) => s.refresh !== undefined);
  if (!strategy?.refresh) throw new NotSupportedError('refresh tokens need statelessJwt({ refresh: { store } })');
  const { events, fresh } = setup;
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
}
