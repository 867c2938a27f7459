import type { Request, Response } from 'express';
import { configError } from '../errors';
import { findCookie } from './cookie';

/** What express-session, mounted before principal(), leaves on the request (connect-redis's store has a `prefix`). */
interface ExpressSessionRequest {
  sessionID?: unknown;
  sessionStore?: { prefix?: unknown };
}

/** The names and key prefixes a sessionCookie owns (its own, and its `legacy` source's). */
export interface SessionNamespace {
  readonly cookies: readonly string[];
  readonly prefixes: readonly string[];
}

const watched = new WeakSet<Response>();

/**
 * An app may keep express-session for its own data beside sessionCookie, each with its own cookie and keys. If
 * they share a cookie name or a key prefix, each overwrites the other's: logins answer 200 and log nobody in, or
 * the app's session data is wiped. Such a request is refused with a configuration error (Express answers 500)
 * instead: when express-session's store prefix overlaps ours, when its cookie arrives under one of our names, or
 * when it is about to set its cookie under one of our names.
 */
export function refuseExpressSessionClash(req: Request, namespace: SessionNamespace): void {
  const session = req as Request & ExpressSessionRequest;
  if (session.sessionStore === undefined || typeof session.sessionID !== 'string') return;
  const prefix = session.sessionStore.prefix;
  if (typeof prefix === 'string') {
    const clash = namespace.prefixes.find((p) => p.startsWith(prefix) || prefix.startsWith(p));
    if (clash !== undefined) throw prefixClash(prefix, clash);
  }
  const header = req.headers.cookie;
  if (typeof header === 'string') {
    const name = namespace.cookies.find((n) => isExpressSessionValue(findCookie(header, n), session.sessionID as string));
    if (name !== undefined) throw cookieClash(name);
  }
  if (req.res !== undefined && !watched.has(req.res)) watchSetCookie(req.res, session, namespace);
}

/** Stable `code` of the warning emitted when express-session sets its cookie under a name sessionCookie uses. */
export const EXPRESS_SESSION_CLASH_WARNING = 'EXPRESS_PRINCIPAL_EXPRESS_SESSION_CLASH';

const warned = new WeakSet<SessionNamespace>();

/**
 * express-session sets its cookie as the response starts, after the route has written its body: too late to
 * answer the error itself, so the response becomes a 500 (never a 200 whose cookie is overwritten) and the
 * configuration error goes to the log as a warning, once.
 */
function watchSetCookie(res: Response, session: ExpressSessionRequest, namespace: SessionNamespace): void {
  watched.add(res);
  const setHeader = res.setHeader;
  res.setHeader = function watchedSetHeader(this: Response, field: string, value: number | string | readonly string[]) {
    if (field.toLowerCase() === 'set-cookie' && typeof session.sessionID === 'string') {
      const sid = session.sessionID;
      const lines = Array.isArray(value) ? value as readonly string[] : [String(value)];
      const name = namespace.cookies.find((n) => lines.some((line) => line.startsWith(`${n}=`) && isExpressSessionValue(line.slice(n.length + 1).split(';')[0] ?? null, sid)));
      if (name !== undefined) {
        this.statusCode = 500;
        if (!warned.has(namespace)) {
          warned.add(namespace);
          process.emitWarning(cookieClash(name).message, { type: 'ExpressPrincipalWarning', code: EXPRESS_SESSION_CLASH_WARNING });
        }
      }
    }
    return setHeader.call(this, field, value);
  } as Response['setHeader'];
}

/** express-session's cookie value for this session: `s:<sid>.<signature>`, URI-encoded or not. */
function isExpressSessionValue(raw: string | null, sid: string): boolean {
  if (raw === null) return false;
  return raw.startsWith(`s:${sid}.`) || raw.startsWith(`s%3A${encodeURIComponent(sid)}.`);
}

function prefixClash(theirs: string, ours: string): TypeError {
  return configError(`express-session's store on this app keeps its sessions under '${theirs}', which overlaps sessionCookie's '${ours}': `
    + "each would overwrite the other's records. Give redisStore() its own `prefix` (the default 'ep:' keeps sessionCookie's records under 'ep:sess:'), "
    + 'or, when moving from express-session, stop mounting express-session on those keys and read them through `legacy`.');
}

function cookieClash(name: string): TypeError {
  return configError(`express-session on this app uses the cookie '${name}', which sessionCookie uses too: each would overwrite the other's cookie `
    + "and logins would log nobody in. Give them different names (express-session's `name`, sessionCookie's `cookie.name` / `legacy.cookie`).");
}
