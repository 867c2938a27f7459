import type { NextFunction, Response } from 'express';
import type { Internals } from './context';
import { AuthError, AuthRequiredError, ForbiddenError, InsufficientScopeError } from './errors';

/** RFC 6750 §3: no `error` attribute when no credential was sent; `invalid_token` / `insufficient_scope` otherwise. */
function bearerChallenge(err: AuthError, realm: string): string | null {
  const base = `Bearer realm="${realm}"`;
  if (err instanceof AuthRequiredError) return base;
  if (err instanceof InsufficientScopeError) return `${base}, error="insufficient_scope", scope="${err.scopes.join(' ')}"`;
  if (err instanceof ForbiddenError) return `${base}, error="insufficient_scope"`;
  if (err.status === 401) return `${base}, error="invalid_token", error_description="${err.message}"`;
  if (err.status === 400 || err.status === 431) return `${base}, error="invalid_request"`;
  return null;
}

/** Answers with an RFC 9457 problem document carrying the stable code; never echoes the credential. */
export function sendProblem(res: Response, err: AuthError, bearer: boolean, realm: string): void {
  if (res.headersSent) return;
  res.status(err.status);
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  if (bearer) {
    const challenge = bearerChallenge(err, realm);
    if (challenge !== null) res.setHeader('WWW-Authenticate', challenge);
  }
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  const problem = { type: `urn:express-principal:error:${err.code}`, title: err.message, status: err.status, code: err.code };
  res.end(JSON.stringify(err.detail === undefined ? problem : { ...problem, detail: err.detail }));
}

/**
 * How a failure leaves a guard, a ready endpoint or a `handle()` route: an AuthError answers problem+json (or goes
 * to the app's error handler with `onError: 'next'`); anything else is a bug or the app's own error and goes to `next`.
 */
export function answerError(state: Pick<Internals, 'onError' | 'bearer' | 'realm'>, res: Response, next: NextFunction, err: unknown): void {
  if (!(err instanceof AuthError) || state.onError === 'next') return next(err);
  sendProblem(res, err, state.bearer, state.realm);
}
