import type { Request, Response } from 'express';
import type { Authenticated, CarrierKind, Presented } from './types';
import type { StrategyImpl } from './strategy';
import { AuthError, configError, CredentialConflictError } from './errors';

/**
 * Which present credential wins when several strategies are configured:
 * `'header-first'` (default): every `Authorization: Bearer` credential before any cookie, each group in list order;
 * `'listed'`: strictly the order of `strategy: [...]`.
 */
export type Precedence = 'header-first' | 'listed';

/** A credential found on the request, and the strategy it belongs to. */
export interface Candidate {
  readonly strategy: StrategyImpl;
  readonly carrier: CarrierKind;
  /** The credential itself, read once. */
  readonly presented: Presented;
  /** From `migrateFrom`: accepted once, then replaced by a credential of the primary strategy. */
  readonly legacy: boolean;
}

export function checkPrecedence(value: unknown): Precedence {
  if (value === undefined) return 'header-first';
  if (value !== 'header-first' && value !== 'listed') throw configError("precedence must be 'header-first' or 'listed'");
  return value;
}

/**
 * Every credential present on the request, best first: current strategies (by precedence) before
 * `migrateFrom` ones. Cheap: no crypto, no I/O.
 */
export function presentCredentials(req: Request, strategies: readonly StrategyImpl[], legacy: readonly StrategyImpl[], precedence: Precedence): Candidate[] {
  const found = (list: readonly StrategyImpl[], isLegacy: boolean): Candidate[] => {
    const out: Candidate[] = [];
    for (const strategy of list) {
      const presented = strategy.find(req);
      if (presented !== null) out.push({ strategy, carrier: presented.carrier, presented, legacy: isLegacy });
    }
    if (precedence === 'header-first') out.sort((a, b) => rank(a.carrier) - rank(b.carrier)); // stable: list order within a carrier
    return out;
  };
  return [...found(strategies, false), ...found(legacy, true)];
}

const rank = (carrier: CarrierKind) => (carrier === 'header' ? 0 : 1);

/**
 * Two credentials of different strategies that both verify but name different subjects are refused
 * (400 ERR_CREDENTIAL_CONFLICT), never merged. The others are only authenticated when present at the
 * same time as the winning one (the cost is paid by requests that carry two credentials, not by every
 * request). A second credential that does not verify, or whose store cannot answer, is ignored: the
 * winning credential already decided. Cookies of a cross-site request are not consulted.
 */
export async function refuseConflicts(
  req: Request,
  res: Response,
  winner: Authenticated,
  others: readonly Candidate[],
  crossSite: boolean,
): Promise<void> {
  for (const other of others) {
    if (other.carrier === 'cookie' && crossSite) continue;
    let result: Authenticated | null;
    try {
      result = await other.strategy.authenticate(req, res, other.presented);
    } catch (err) {
      // A refused second credential is no conflict; a bug is still a bug.
      if (!(err instanceof AuthError)) throw err;
      continue;
    }
    if (result !== null && result.principal.id !== winner.principal.id) throw new CredentialConflictError();
  }
}

/**
 * Authenticates the winning credential. When it is a current-strategy credential that does not verify
 * (ERR_INVALID_CREDENTIAL) and a `migrateFrom` credential is also present — typically both read the same
 * `Authorization` header or cookie name — the old strategy gets its turn: that is a user still holding
 * an old credential, not a forgery. Expired or revoked credentials never fall back.
 */
export async function authenticateWinner(
  req: Request,
  res: Response,
  found: readonly Candidate[],
  beforeCookie: () => void,
): Promise<{ winner: Candidate; result: Authenticated | null; others: Candidate[] } | null> {
  const [first, ...rest] = found;
  if (first === undefined) return null;
  if (first.carrier === 'cookie') beforeCookie();
  try {
    return { winner: first, result: await first.strategy.authenticate(req, res, first.presented), others: rest };
  } catch (err) {
    const fallback = first.legacy ? undefined : rest.find((c) => c.legacy);
    if (fallback === undefined || !(err instanceof AuthError && err.code === 'ERR_INVALID_CREDENTIAL')) throw err;
    if (fallback.carrier === 'cookie') beforeCookie();
    let result: Authenticated | null;
    try {
      result = await fallback.strategy.authenticate(req, res, fallback.presented);
    } catch (fallbackErr) {
      throw fallbackErr instanceof AuthError ? err : fallbackErr;
    }
    return { winner: fallback, result, others: rest.filter((c) => c !== fallback && !(c.strategy === first.strategy)) };
  }
}
