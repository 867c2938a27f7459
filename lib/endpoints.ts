import express, { type Request, type RequestHandler, type Response } from 'express';
import { MalformedRequestError } from './errors';
import { internals } from './context';
import { answerError } from './respond';
import { missingMiddleware } from './foreign-auth';

const jsonBody = express.json({ limit: '4kb' });

/**
 * A ready POST endpoint of the middleware (`refreshHandler()`, `logoutHandler()`): reads a JSON body when the app
 * has not, runs `action`, and answers an AuthError as problem+json (or hands it on with `onError: 'next'`).
 */
export function postEndpoint(name: string, action: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      res.status(405).end();
      return;
    }
    const state = internals.get(req);
    if (state === undefined || req.auth === undefined) {
      next(missingMiddleware(req.auth, `auth.${name}()`));
      return;
    }
    const fail = (err: unknown) => answerError(state, res, next, err);
    const run = () => { action(req, res).catch(fail); };
    if ((req as Request & { body?: unknown }).body !== undefined) run();
    else jsonBody(req, res, (err?: unknown) => (err === undefined || err === null ? run() : fail(scrubbed(err))));
  };
}

/**
 * The body parser's own error keeps the raw body (here: a refresh token) in `body`, and a snippet of it in its
 * message and stack; error loggers print all three. A client's bad body becomes an error that carries none of it.
 */
function scrubbed(err: unknown): unknown {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? new MalformedRequestError() : err;
}

/**
 * `auth.logoutHandler()`: POST only; ends the session — the access token, and the refresh family of the refresh
 * cookie or of `{ refreshToken }` in the body — and answers 204. Mount it under `refresh.cookiePath` (e.g.
 * `/auth/refresh/logout`): the refresh cookie is sent only there, and an idle tab's access token has expired.
 */
export function logoutHandler(): RequestHandler {
  return postEndpoint('logoutHandler', async (req, res) => {
    await req.auth.logout();
    res.setHeader('Cache-Control', 'no-store');
    res.status(204).end();
  });
}
