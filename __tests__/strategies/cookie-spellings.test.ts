/**
 * A cookie credential is the same credential however the cookie is spelled (plain, quoted, percent-encoded), and a
 * malformed percent-encoding is refused, never decoded into something else. The cookie carrier skips decoding when
 * there is no '%' (lib/carriers/cookie.ts): these pin down that the shortcut changes no answer.
 */
import express from 'express';
import request from 'supertest';
import { cookieStore, principal, requireAuth, sessionCookie, statelessJwt, type Strategy } from '../../lib';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const everyCharEncoded = (v: string) => [...v].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');

describe.each<[string, () => Strategy, string]>([
  ['statelessJwt in a cookie', () => statelessJwt({ secret, carrier: 'cookie', cookie: { secure: false } }), 'ep'],
  ['sealed cookie session', () => sessionCookie({ store: cookieStore({ secret }), secure: false }), 'sid'],
])('%s', (_label, make, name) => {
  it('accepts the plain, quoted and percent-encoded spellings, and refuses a malformed escape', async () => {
    const auth = principal({ strategy: make() });
    const app = express();
    app.use(auth);
    app.post('/login', async (req, res) => { await req.auth.login({ id: 'lou', roles: ['user'] }); res.sendStatus(204); });
    app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
    try {
      const set = ([] as string[]).concat((await request(app).post('/login').expect(204)).headers['set-cookie'] ?? []);
      const pair = set.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
      if (pair === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(set)}`);
      const value = decodeURIComponent(pair.slice(name.length + 1));
      expect(value).not.toContain('%');
      for (const spelled of [value, `"${value}"`, everyCharEncoded(value), `other=1; ${name}=${value}; theme=dark`]) {
        const cookie = spelled.includes(`${name}=`) ? spelled : `${name}=${spelled}`;
        expect((await request(app).get('/me').set('Cookie', cookie).expect(200)).body.id).toBe('lou');
      }
      for (const broken of [`${value}%E0%A4%A`, `${value.slice(0, -2)}%ZZ`, `%${value}`]) {
        const res = await request(app).get('/me').set('Cookie', `${name}=${broken}`);
        expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
        expect(JSON.stringify(res.body)).not.toContain('lou');
      }
    } finally {
      await auth.close();
    }
  });
});
