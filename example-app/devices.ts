/**
 * The "Your devices" panel's API: the caller's live sessions (`req.auth.sessions()`), ending one of them
 * (`req.auth.revokeSession(handle)`) and "log out other devices" (`req.auth.logoutOthers()`).
 *
 * Only strategies that keep sessions server-side can list them. Elsewhere these routes answer 501
 * ERR_NOT_SUPPORTED (from the library, through the app's error handler), and `/api/config` tells the page
 * so up front, so a visitor's page never asks for a list that cannot exist.
 */
import type { Express } from 'express';
import { authed, type SessionInfo } from '../lib';

/** What the page needs to know before it asks: whether sessions can be listed here, and if not, what to change. */
export interface DevicesSupport {
  supported: boolean;
  /** Shown instead of the list when unsupported: what to configure. */
  howTo: string | null;
}

export function devicesSupport(strategy: string, storage: string, refresh: boolean): DevicesSupport {
  // statelessJwt with a store: a device is a refresh-token family, or one login's access tokens.
  if (strategy === 'stateful-jwt' || strategy === 'stateless-jwt' || (strategy === 'session-cookie' && storage !== 'cookie') || refresh) return { supported: true, howTo: null };
  const why = 'session-cookie with AUTH_STORAGE=cookie keeps the whole session in the encrypted cookie, so the server keeps no list of logins';
  return {
    supported: false,
    howTo: `Listing devices needs server-side sessions: ${why}. Restart with AUTH_STRATEGY=stateful-jwt, AUTH_STRATEGY=session-cookie with AUTH_STORAGE=memory or redis, or AUTH_STRATEGY=stateless-jwt (in code: statefulJwt({ store }), sessionCookie({ store }), statelessJwt({ store }), or sessionCookie({ store: cookieStore(), revocation: store })).`,
  };
}

/** A session as the panel shows it: dates as ISO strings, nothing that could serve as a credential. */
function deviceView(s: SessionInfo) {
  return {
    handle: s.handle,
    device: s.device,
    address: s.address,
    createdAt: s.createdAt.toISOString(),
    lastSeenAt: s.lastSeenAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
    current: s.current,
  };
}

export function deviceRoutes(app: Express): void {
  app.get('/api/devices', authed(async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ devices: (await req.auth.sessions()).map(deviceView) });
  }));

  // Only the caller's own sessions: another subject's handle matches nothing and answers 404.
  app.delete('/api/devices/:handle', authed(async (req, res) => {
    const ended = await req.auth.revokeSession(String(req.params.handle));
    if (!ended) { res.status(404).type('application/problem+json').send(JSON.stringify({ code: 'ERR_NO_SUCH_SESSION', title: 'No such session of yours', status: 404 })); return; }
    res.json({ ended: true });
  }));

  app.post('/api/devices/logout-others', authed(async (req, res) => {
    res.json({ ended: await req.auth.logoutOthers() });
  }));
}
