import type { Request } from 'express';
import type { ResolvedCookie } from './cookie';

/** Stable `code` of the warning emitted when a Secure cookie is set on a plain-http request outside production. */
export const INSECURE_REQUEST_SECURE_COOKIE = 'EXPRESS_PRINCIPAL_SECURE_COOKIE_ON_HTTP';

/**
 * A Secure cookie set on plain http is dropped (by us for a session id, by the browser otherwise): the login
 * answers 200 and every later request 401. Outside production, say so once per carrier; in production a proxy
 * misconfiguration must not fill the log, and the cookie stays Secure either way.
 */
export function insecureCookieWarning(cookie: ResolvedCookie): (req: Request | undefined) => void {
  let warned = false;
  return (req) => {
    if (warned || !cookie.secure || req === undefined || req.secure || process.env.NODE_ENV === 'production') return;
    warned = true;
    process.emitWarning(
      `express-principal: the Secure cookie '${cookie.name}' cannot be delivered on a plain-http request (req.secure is false): logins answer 200 but later requests carry no credential. `
        + "Serve the app over https; behind a TLS-terminating proxy, app.set('trust proxy', ...) so req.secure is true; "
        + 'or, on localhost only, set the cookie option secure: false.',
      { type: 'ExpressPrincipalWarning', code: INSECURE_REQUEST_SECURE_COOKIE },
    );
  };
}
