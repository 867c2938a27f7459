import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Principal } from './types';
import { requireAuth } from './guards';
import { settle } from './handle';
import { configError } from './errors';

/** A request that passed a guard: `req.principal` is a `Principal`, never `null`. */
export type AuthedRequest = Request & {
  /** Who is calling; never `null` inside `authed()`. */
  principal: Principal;
};

/** A route handler (async or not) behind a guard: what `authed()` wraps. */
export type AuthedHandler = (req: AuthedRequest, res: Response, next: NextFunction) => unknown;

/**
 * A route whose `req.principal` is typed `Principal` (no cast, no `!`). Express's types give every handler of a
 * route the same `req` type, so a guard in front cannot narrow it; this wrapper checks what it promises: it runs
 * `requireAuth()` first (an anonymous or refused request gets that guard's answer), and its failures, thrown or
 * rejected, answer like `handle()`'s. Put `requireRole()` and the other guards before it as usual.
 * @example
 * app.get('/admin', requireRole('admin'), authed((req, res) => res.json(req.principal.roles)));
 */
export function authed(fn: AuthedHandler): RequestHandler {
  if (typeof fn !== 'function') throw configError('authed() needs a route handler function');
  const guard = requireAuth();
  return (req, res, next) => {
    guard(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err);
      // The guard vetted the principal where it keeps it; the handler reads `req.principal`, so that is checked too.
      if (!hasPrincipal(req)) return next(configError('req.principal was replaced after the middleware ran; authed() found no principal'));
      settle(() => fn(req, res, next), req, res, next);
    });
  };
}

function hasPrincipal(req: Request): req is AuthedRequest {
  return typeof req.principal === 'object' && req.principal !== null;
}
