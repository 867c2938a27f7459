import type { CarrierKind, StateStore } from '../types';
import { configError } from '../errors';
import { toMs } from '../duration';
import { isStateStore } from '../state/store-kind';
import { RefreshDelivery } from './refresh-delivery';
import type { DenyAccess } from '../state/refresh-families';

/** `statelessJwt({ refresh })`: long-lived, single-use, rotating refresh tokens kept (hashed) in a store. */
export interface RefreshOptions {
  /** Where refresh tokens live (hashed): `redisStore()` or `memoryStore()`. */
  store: StateStore;
  /** Lifetime of each refresh token; every rotation starts a new one. @default '30d' */
  ttl?: string | number;
  /** A used token presented again within this window (two tabs refreshing at once) gets the same successor instead of revoking the family. @default '10s' */
  graceWindow?: string | number;
  /** Path the refresh cookie is scoped to: mount `auth.refreshHandler()` there. @default '/auth/refresh' */
  cookiePath?: string;
  /** Refresh cookie name. @default '__Secure-ep_rt' ('ep_rt' when not secure) */
  cookieName?: string;
  /** Secure flag of the refresh cookie. @default the access cookie's, else true */
  secure?: boolean;
  /**
   * Where the refresh token goes: an HttpOnly cookie (browsers) or the `Issued.refreshToken` / JSON body (native clients).
   * @default 'cookie' when the access token travels in a cookie, 'body' for header-only carriers
   */
  deliver?: 'cookie' | 'body' | 'both';
}

export interface RefreshContext {
  /** Carriers of the access token: decide where the refresh token goes by default. */
  carriers: readonly CarrierKind[];
  /** The access cookie's Secure flag, when there is one. */
  accessCookieSecure: boolean | undefined;
  /** Adds a jti to the access-token deny-list (null: the strategy has no revocation store). */
  revokeJti: DenyAccess;
}

/** The options, checked and resolved once at construction. */
export interface RefreshSettings {
  readonly store: StateStore;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly delivery: RefreshDelivery;
}

export function refreshSettings(options: RefreshOptions, context: RefreshContext): RefreshSettings {
  if (typeof options !== 'object' || options === null || !isStateStore(options.store)) {
    throw configError('statelessJwt `refresh.store` must be redisStore() or memoryStore() (refresh tokens are kept server-side, hashed)');
  }
  const ttlMs = toMs(options.ttl ?? '30d', 'refresh.ttl');
  const graceMs = toMs(options.graceWindow ?? '10s', 'refresh.graceWindow');
  if (ttlMs <= 0) throw configError('refresh.ttl must be positive');
  if (graceMs > 60_000) throw configError('refresh.graceWindow above 1 minute lets a stolen token through; keep it short');
  return { store: options.store, ttlMs, graceMs, delivery: new RefreshDelivery(options, context) };
}
