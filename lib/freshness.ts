import type { Request, RequestHandler, Response } from 'express';
import type { Identity, Principal, StrategyName } from './types';
import type { StrategyImpl } from './strategy';
import { configError, dataSourceFailure, RefreshReusedError } from './errors';
import { toMs } from './duration';
import { sanitizeIdentity } from './claims';
import { makePrincipal } from './principal-of';
import { postEndpoint } from './endpoints';

export { REISSUED_TOKEN_HEADER } from './carriers/header';

/** `principal({ refreshPrincipal })`: keeps roles/scopes/claims no older than `maxAge`, whatever the strategy. */
export interface RefreshPrincipalOptions {
  /** Data older than this (by `Principal.loadedAt`) is reloaded before the route sees it. */
  maxAge: string | number;
  /**
   * Loads the current identity from your source of truth. `null`: the user is gone (the credential is revoked,
   * the request is anonymous). Throwing: the request fails closed (503 on protected routes).
   */
  load: (id: string) => Promise<Identity | null>;
}

/** Payloads of the freshness/refresh events: ids and outcomes only, never a credential. */
export interface RehydratedEvent {
  /** The subject whose data was reloaded. */
  id: string;
  /** The strategy of the credential that carried it. */
  strategy: StrategyName;
  /** The credential's new session id (`jti` of the re-issued token; unchanged for stateful sessions); null when gone. */
  sessionId: string | null;
  /** 'reloaded': new data in place; 'gone': `load` returned null and the credential was revoked. */
  outcome: 'reloaded' | 'gone';
  /** How old the data was, in ms, when it was reloaded. */
  ageMs: number;
}

/** Payload of `refreshed`: a refresh token was exchanged for a new access token. */
export interface RefreshedEvent {
  /** The subject. */
  id: string;
  /** The strategy that issued the new access token. */
  strategy: StrategyName;
  /** `jti` of the new access token. */
  sessionId: string | null;
  /** When the new access token expires. */
  expiresAt: Date;
}

/** Why a `revoked` event fired: `revokeAll()`, `refreshPrincipal.load` returned null, or a reused refresh token. */
export type RevokedReason = 'revokeAll' | 'gone' | 'refresh-reused';

export interface FreshnessEvents {
  rehydrated(event: RehydratedEvent): void;
  revoked(subject: string, reason: RevokedReason): void;
}

export interface Freshness {
  readonly maxAgeMs: number;
  /** `load`, single-flight per subject: concurrent callers share one call. */
  load(id: string): Promise<Identity | null>;
  /** The principal as the route must see it: unchanged when fresh, reloaded (and re-issued) when stale, null when gone. */
  ensure(req: Request, res: Response, strategy: StrategyImpl, current: Principal): Promise<Principal | null>;
}

export function freshness(options: RefreshPrincipalOptions, events: FreshnessEvents): Freshness {
  if (typeof options !== 'object' || options === null || typeof options.load !== 'function') {
    throw configError('refreshPrincipal needs `load: async (id) => Identity | null` and `maxAge`');
  }
  const maxAgeMs = toMs(options.maxAge, 'refreshPrincipal.maxAge');
  if (maxAgeMs <= 0) throw configError('refreshPrincipal.maxAge must be positive');
  const inFlight = new Map<string, Promise<Identity | null>>();

  function load(id: string): Promise<Identity | null> {
    const pending = inFlight.get(id);
    if (pending) return pending;
    const work = Promise.resolve()
      .then(() => options.load(id))
      .catch((err: unknown) => { throw dataSourceFailure(err); })
      .then((identity) => {
        if (identity === null) return null;
        if (typeof identity !== 'object' || identity.id !== id) throw new TypeError('express-principal: refreshPrincipal.load must return an Identity with the same id, or null');
        return identity;
      })
      .finally(() => inFlight.delete(id));
    inFlight.set(id, work);
    return work;
  }

  async function ensure(req: Request, res: Response, strategy: StrategyImpl, current: Principal): Promise<Principal | null> {
    const ageMs = Date.now() - current.loadedAt.getTime();
    if (ageMs <= maxAgeMs) return current;
    const identity = await load(current.id);
    if (identity === null) {
      // The user is gone: end this credential the way logout does, and carry on anonymously.
      await strategy.logout(req, res, current);
      events.revoked(current.id, 'gone');
      events.rehydrated({ id: current.id, strategy: current.strategy, sessionId: null, outcome: 'gone', ageMs });
      return null;
    }
    const next = strategy.rehydrate
      ? await strategy.rehydrate(req, res, current, identity)
      : makePrincipal(sanitizeIdentity(identity), current.strategy, current.sessionId, {
        issuedAtMs: current.issuedAt.getTime(), expiresAtMs: current.expiresAt.getTime(),
        authenticatedAtMs: current.authenticatedAt.getTime(), loadedAtMs: Date.now(),
      });
    events.rehydrated({ id: next.id, strategy: next.strategy, sessionId: next.sessionId, outcome: 'reloaded', ageMs });
    return next;
  }

  return { maxAgeMs, load, ensure };
}

/**
 * `auth.refreshHandler()`: POST only; rotates the refresh token (cookie or JSON body `{ refreshToken }`) and answers
 * `{ token, expiresAt, refreshToken? }` with `Cache-Control: no-store`, or a problem+json error.
 */
export function refreshHandler(): RequestHandler {
  return postEndpoint('refreshHandler', async (req, res) => {
    const issued = await req.auth.refresh();
    res.setHeader('Cache-Control', 'no-store');
    res.json({ token: issued.token, expiresAt: issued.expiresAt, ...(issued.refreshToken !== undefined ? { refreshToken: issued.refreshToken } : {}) });
  });
}

/** Errors a refresh may end with, for the `revoked` event. */
export function reuseSubject(err: unknown): string | null {
  return err instanceof RefreshReusedError ? err.subject : null;
}
