import type { Request, Response } from 'express';
import type { CarrierKind, Principal } from './types';
import type { StrategyImpl } from './strategy';
import { CredentialTooLargeError } from './errors';
import { isCrossSite } from './carriers/csrf';
import { authenticateWinner, presentCredentials, refuseConflicts, type Candidate } from './multi';
import { migrate } from './migration';
import { refuseCrossSite } from './setup';
import type { RequestAuth } from './request-auth';

/** What identify() answers: the principal found (`null`: anonymous), or a promise of it. */
export type Outcome = { readonly principal: Principal } | null | Promise<{ readonly principal: Principal } | null>;

/**
 * The one request pipeline: size cap → the credentials present (each read once) → the winning strategy → (several
 * credentials) conflicts, migration, fresh data. With one strategy and nothing else to do, the strategy's answer
 * is the outcome as it comes: synchronous when the strategy answers synchronously (a cached token), so no promise
 * is made, and a strategy's promise is not wrapped in another one. Whoever authenticated is `ctx.tried`.
 */
export function identify(ctx: RequestAuth): Outcome {
  const { setup, req } = ctx;
  const header = req.headers.authorization;
  if (typeof header === 'string' && header.length > setup.maxBytes) throw new CredentialTooLargeError();
  if (!setup.direct) return several(ctx);
  const strategy = setup.primary;
  const presented = strategy.find(req);
  if (presented === null) return null;
  noteCredential(ctx, strategy, presented.carrier);
  // A cookie sent by another site's form is ambient authority, not intent: ignore it.
  if (presented.carrier === 'cookie') refuseCrossSite(setup, req);
  return strategy.authenticate(req, ctx.res, presented);
}

/** What guards and the `rejected` event need to know about the credential being authenticated. */
function noteCredential(ctx: RequestAuth, strategy: StrategyImpl, carrier: CarrierKind): void {
  ctx.carrier = carrier;
  ctx.bearer = carrier === 'header';
  ctx.tried = strategy;
}

/** Several strategies, a migration or refreshPrincipal: every credential present, best first (lib/multi.ts). */
async function several(ctx: RequestAuth): Promise<{ principal: Principal } | null> {
  const { setup, req, res } = ctx;
  const found = presentCredentials(req, setup.strategies, setup.legacy, setup.precedence);
  const first = found[0];
  if (first === undefined) return null;
  noteCredential(ctx, first.strategy, first.carrier);
  const picked = await authenticateWinner(req, res, found, () => refuseCrossSite(setup, req));
  if (picked === null || picked.result === null) return null;
  const { winner, result, others } = picked;
  // Answerable for a refusal from here on: the strategy that authenticated (a migrateFrom fallback, maybe).
  ctx.tried = winner.strategy;
  if (others.length > 0) await refuseConflicts(req, res, result, others, setup.usesCookie && isCrossSite(req, setup.trusted));
  if (winner.legacy) await moveOver(ctx, req, res, winner, result.principal);
  ctx.used = winner.strategy;
  if (setup.fresh === null) return result;
  const principal = await setup.fresh.ensure(req, res, winner.strategy, result.principal);
  return principal === null ? null : { principal };
}

async function moveOver(ctx: RequestAuth, req: Request, res: Response, winner: Candidate, principal: Principal): Promise<void> {
  const outcome = await migrate(req, res, winner.strategy, ctx.setup.primary, principal);
  if (ctx.setup.events.listenerCount('migrated') > 0) ctx.setup.events.emit('migrated', outcome);
}
