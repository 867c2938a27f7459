import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Principal } from './types';
import { AuthError, AuthRequiredError, ForbiddenError, InsufficientScopeError, LoginRequiredError, configError } from './errors';
import { internals, type Internals } from './context';
import { answerError } from './respond';
import { ownAuth, slotIn } from './request-slot';
import { missingMiddleware, warnReplacedAfter } from './foreign-auth';
import { toMs } from './duration';

type Check = (principal: Principal, req: Request, state: Internals) => AuthError | null | Promise<AuthError | null>;

/** Guards are predicates; this is the one place that turns a verdict into a response. */
function toHandler(check: Check): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // From `res`, not `req.res`: every property read on an Express request or response is a slow (megamorphic) one.
    const slot = slotIn(res);
    const own = ownAuth(req, slot);
    const state = internals.of(own);
    if (state === undefined) {
      // Fail closed: a guard without the middleware in front would otherwise protect nothing.
      next(missingMiddleware(req.auth, 'using guards'));
      return;
    }
    if (slot !== undefined && slot.auth !== own) warnReplacedAfter(slot.auth, state.instance);
    if (state.error !== null) return fail(state, res, next, state.error);
    const who = slot === undefined ? req.principal : slot.principal;
    if (who === null || who === undefined) return fail(state, res, next, new AuthRequiredError());
    // Synchronous checks (roles, scopes) answer in the same tick; only an async predicate waits.
    let verdict: AuthError | null | Promise<AuthError | null>;
    try {
      verdict = check(who, req, state);
    } catch (err) {
      return err instanceof AuthError ? fail(state, res, next, err) : next(err);
    }
    if (verdict === null) return next();
    if (!(verdict instanceof Promise)) return fail(state, res, next, verdict);
    verdict.then(
      (err) => (err === null ? next() : fail(state, res, next, err)),
      (err: unknown) => (err instanceof AuthError ? fail(state, res, next, err) : next(err)),
    );
  };
}

function fail(state: Internals, res: Response, next: NextFunction, err: AuthError): void {
  answerError(state, res, next, err);
}

function names(list: string[], guard: string): string[] {
  if (list.length === 0 || list.some((r) => typeof r !== 'string' || r === '')) throw configError(`${guard}() needs at least one non-empty name`);
  return list;
}

/** 401 unless a valid credential was presented. */
export function requireAuth(): RequestHandler {
  return toHandler(() => null);
}

/** 403 unless the principal has every listed role (a role hierarchy counts). */
export function requireRole(...roles: string[]): RequestHandler {
  names(roles, 'requireRole');
  return toHandler((p, _req, state) => {
    const have = state.effectiveRoles(p.roles);
    return roles.every((r) => have.has(r)) ? null : new ForbiddenError();
  });
}

/** 403 unless the principal has at least one of the listed roles. */
export function requireAnyRole(...roles: string[]): RequestHandler {
  names(roles, 'requireAnyRole');
  return toHandler((p, _req, state) => {
    const have = state.effectiveRoles(p.roles);
    return roles.some((r) => have.has(r)) ? null : new ForbiddenError();
  });
}

/** 403 (`insufficient_scope`) unless the principal has every listed scope. */
export function requireScope(...scopes: string[]): RequestHandler {
  names(scopes, 'requireScope');
  return toHandler((p) => (scopes.every((s) => p.scopes.includes(s)) ? null : new InsufficientScopeError(scopes)));
}

/**
 * 403 unless the predicate says yes; for ownership rules.
 * @example
 * app.get('/users/:userId', allow((p, req) => req.params.userId === p.id), handler)
 */
export function allow(predicate: (principal: Principal, req: Request) => boolean | Promise<boolean>): RequestHandler {
  if (typeof predicate !== 'function') throw configError('allow() needs a predicate function');
  return toHandler(async (p, req) => ((await predicate(p, req)) === true ? null : new ForbiddenError()));
}

/** 401 `ERR_LOGIN_REQUIRED` unless the user logged in within `maxAge` (for sensitive actions). */
export function requireFreshLogin(maxAge: string | number): RequestHandler {
  const ms = toMs(maxAge, 'requireFreshLogin maxAge');
  return toHandler((p) => (Date.now() - p.authenticatedAt.getTime() <= ms ? null : new LoginRequiredError()));
}
