import type { Request, Response } from 'express';
import type { DeviceFacts } from './state/device';
import type { SessionDirectory } from './state/session-repository';
import type { LogMark } from './state/receipts';
import type { Authenticated, CarrierKind, Identity, Issued, Presented, Principal, Strategy, StrategyName } from './types';

/**
 * What a strategy does, as `principal()` drives it (internal: lib/index.ts exports only the opaque `Strategy`).
 * `authenticate` returns null for "no credential", throws an `AuthError` for a bad one (an unreachable store or
 * JWKS is one too: StoreUnavailableError / KeysUnavailableError, wrapped where the I/O happens); anything else it
 * throws is a bug and reaches Express's error handling (500).
 */
export interface StrategyImpl {
  readonly name: StrategyName;
  readonly carriers: readonly CarrierKind[];
  /**
   * The credential this strategy reads on the request, read once per request (cheap: no crypto, no I/O, no
   * AuthError; an oversized or malformed value is refused by `authenticate`). `null`: none present. Only a
   * configuration error the request reveals (sessionCookie beside an express-session that shares its cookie or
   * keys) is thrown: it reaches Express (500), like a bug.
   */
  find(req: Request): Presented | null;
  /** May answer synchronously (e.g. a cached token checked against local revocation state). */
  authenticate(req: Request, res: Response, presented: Presented): Authenticated | null | Promise<Authenticated | null>;
  /** `facts`: what the session keeps of the device (principal({ devices })). */
  login(req: Request, res: Response, identity: Identity, previous: Principal | null, facts?: DeviceFacts): Promise<Issued>;
  logout(req: Request, res: Response, current: Principal | null): Promise<void>;
  /** Resolves to where the revocation went in shared logs (what a receipt waits on). */
  revokeAll(subject: string): Promise<readonly LogMark[] | void>;
  /** Rewrites roles/scopes/claims of a subject's live sessions (stateful strategies). */
  update(subject: string, patch: Partial<Omit<Identity, 'id'>>): Promise<number>;
  /**
   * Internal: the session state behind `revokeAll` / `update` (a store's session-record repository). Strategies
   * with the same one share every session of a subject, so `principal()` asks one of them, not each.
   */
  readonly sessionState?: object;
  /** Internal (sessions API): the sessions this strategy can list and end; strategies sharing one list it once. */
  readonly sessions?: SessionDirectory;
  /**
   * Internal: credentials this strategy takes over (sessionCookie's `legacy`), as if listed in `migrateFrom`.
   * Only the first strategy of `principal()` may bring them: users move to the strategy that issues.
   */
  readonly migratesFrom?: readonly StrategyImpl[];
  /** JWKS of the public verification keys (JWT strategies with asymmetric keys). */
  publicJwks?(): { keys: Record<string, unknown>[] };
  /**
   * Internal (refreshPrincipal): replaces the current credential's roles/scopes/claims with freshly loaded ones
   * (stateful: rewrites the record; stateless: re-issues the token) and returns the new Principal
   * (`loadedAt` = now, `authenticatedAt` unchanged).
   */
  rehydrate?(req: Request, res: Response, current: Principal, identity: Identity): Promise<Principal>;
  /** Internal (refresh tokens): rotates the presented refresh token and issues a new access token. */
  refresh?(req: Request, res: Response, resolve: (snapshot: Identity) => Promise<Identity | null>): Promise<Issued>;
  close(): Promise<void>;
}

/** The factories' side of the boundary: the hooks, as users hold them. */
export function asStrategy(impl: StrategyImpl): Strategy {
  return impl as unknown as Strategy;
}

/** `principal()`'s side: the hooks behind `value`, or `null` when it is no strategy (not made by a factory). */
export function strategyImpl(value: unknown): StrategyImpl | null {
  return typeof (value as Partial<StrategyImpl> | null | undefined)?.authenticate === 'function' ? value as StrategyImpl : null;
}
