import type { Request, Response } from 'express';
import type { Identity, Issued, Principal, Strategy, StrategyName } from './types';
import { strategyImpl, type StrategyImpl } from './strategy';
import { AuthError, configError, type AnyAuthError } from './errors';
import { REISSUED_TOKEN_HEADER } from './carriers/header';
import { markReissue } from './auth-time';

/** Payload of the `migrated` event: one user moved (or failed to move) from a `migrateFrom` strategy. */
export interface MigrationOutcome {
  /** The subject. */
  readonly id: string;
  /** The strategy of the old credential. */
  readonly from: StrategyName;
  /** The strategy of the new credential. */
  readonly to: StrategyName;
  /** The new session id / jti (the credential itself went out as a cookie and/or the `X-Access-Token` header, never in an event). */
  readonly sessionId: string | null;
  /** When the new credential expires; `null` when issuing failed. */
  readonly expiresAt: Date | null;
  /** Whether the old credential was ended (session destroyed / token revoked / cookie cleared). */
  readonly oldRevoked: boolean;
  /** Why issuing the new credential failed; the old credential is then left untouched. */
  readonly error?: AnyAuthError;
}

export function checkMigrateFrom(value: Strategy | Strategy[] | undefined, current: readonly StrategyImpl[]): StrategyImpl[] {
  if (value === undefined) return [];
  const list = (Array.isArray(value) ? value : [value]).map(strategyImpl);
  if (!list.every((s): s is StrategyImpl => typeof s?.logout === 'function')) {
    throw configError('migrateFrom must be a strategy (or a list): the one users are moving away from');
  }
  if (list.some((s) => current.includes(s))) throw configError('a strategy cannot be both in `strategy` and in `migrateFrom`');
  return list;
}

/** What a principal of the old strategy becomes when re-issued by the new one (same subject, roles, scopes, claims). */
export function identityOf(p: Principal): Identity {
  return { id: p.id, roles: [...p.roles], scopes: [...p.scopes], claims: { ...p.claims } };
}

/**
 * Moves one user from `from` to `to` on this response: issues a `to` credential through its ordinary
 * `login` (the old principal is passed as `previous`, so `authenticatedAt` is kept and the session id is new),
 * then ends the old credential through `from.logout` (destroys its session / revokes its jti / clears its cookie).
 * If the new credential cannot be issued (store down), nothing is revoked: the old credential keeps working
 * and the move is tried again on the next request.
 */
export async function migrate(req: Request, res: Response, from: StrategyImpl, to: StrategyImpl, old: Principal): Promise<MigrationOutcome> {
  let issued: Issued;
  markReissue(old);
  try {
    issued = await to.login(req, res, identityOf(old), old);
  } catch (err) {
    // A bug in the new strategy is not a failed move to report and retry: it reaches Express (500).
    if (!(err instanceof AuthError)) throw err;
    return { id: old.id, from: from.name, to: to.name, sessionId: null, expiresAt: null, oldRevoked: false, error: err };
  }
  if (issued.token !== null) {
    res.setHeader(REISSUED_TOKEN_HEADER, issued.token);
    if (req.headers.origin !== undefined) res.append('Access-Control-Expose-Headers', REISSUED_TOKEN_HEADER);
  }
  res.setHeader('Cache-Control', 'no-store');
  let oldRevoked = true;
  try {
    await from.logout(req, res, old);
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    oldRevoked = false;
  }
  return { id: old.id, from: from.name, to: to.name, sessionId: issued.sessionId, expiresAt: issued.expiresAt, oldRevoked };
}
