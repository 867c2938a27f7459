import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { internals } from './context';
import { ownAuth, slotOf } from './request-slot';
import { warnReplacedAfter } from './foreign-auth';
import { answerError } from './respond';

/** A route handler that may be async: what `handle()` wraps. */
export type RouteHandler = (req: Request, res: Response, next: NextFunction) => unknown;

/**
 * Wraps a route handler (async or not) so that its failure answers like the guards do. Express 4 does not look at
 * the promise an async handler returns: a rejected `req.auth.login()` (store down) is an unhandled rejection, which
 * ends the process. Express 5 passes it to its own handler, an HTML page. Here an `AuthError` answers problem+json
 * with its status and headers (`Retry-After` on 503), or goes to `next` with `onError: 'next'`; anything else is the
 * app's bug or its own error and goes to `next`, so the app's error handler answers it.
 * @example
 * app.post('/logout', handle(async (req, res) => { await req.auth.logout(); res.sendStatus(204); }));
 */
export function handle(fn: RouteHandler): RequestHandler {
  return (req, res, next) => settle(() => fn(req, res, next), req, res, next);
}

/** Runs a route and sends its failure, thrown or rejected, where `handle()` says. */
export function settle(run: () => unknown, req: Request, res: Response, next: NextFunction): void {
  const fail = (err: unknown) => answer(req, res, next, err);
  try {
    const out = run();
    if (isThenable(out)) out.then(undefined, fail);
  } catch (err) {
    fail(err);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function answer(req: Request, res: Response, next: NextFunction, err: unknown): void {
  const slot = slotOf(req);
  const own = ownAuth(req, slot);
  const state = internals.of(own);
  // Without the middleware there is no realm or onError to answer with: the app's handler decides.
  if (state === undefined) return next(err);
  // A route calling req.auth.login() on another middleware's value fails here: say why.
  if (slot !== undefined && slot.auth !== own) warnReplacedAfter(slot.auth, state.instance);
  answerError(state, res, next, err);
}
