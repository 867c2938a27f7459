/**
 * The per-credential caches (verified tokens, opened sealed cookies, unsigned session ids) are keyed by the
 * credential's tail (lib/cache/credential-cache.ts). A credential that shares a cached one's tail but differs
 * anywhere else must be a miss, verified in full and refused: never answered from the other credential's entry.
 */
import request from 'supertest';
import { cookieStore, memoryStore, sessionCookie, statelessJwt } from '../../lib';
import { buildApp, login } from '../helpers/apps';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const louIdentity = { id: 'lou', roles: ['user'] };

/** Same length and same last 40 characters, one character changed near the start. */
function sameTail(value: string, at: number): string {
  const c = value.charAt(at);
  const swapped = c === 'A' ? 'B' : 'A';
  const forged = value.slice(0, at) + swapped + value.slice(at + 1);
  expect(forged.slice(-40)).toBe(value.slice(-40));
  expect(forged).not.toBe(value);
  return forged;
}

/** The decoded value of a login's session cookie. */
async function cookieValue(app: Parameters<typeof login>[0], id: string): Promise<string> {
  const pair = (await login(app, { id, roles: ['user'] })).cookie;
  if (pair === null) throw new Error('login set no cookie');
  return decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
}

describe('caches keyed by a credential tail serve only that exact credential', () => {
  it('statelessJwt: a token with a cached token\'s signature but another payload is refused, and the cached one still works', async () => {
    const { app: a, auth } = buildApp({ strategy: statelessJwt({ secret }) });
    try {
      const token = (await login(a, louIdentity)).token as string;
      await request(a).get('/me').set('Authorization', `Bearer ${token}`).expect(200); // cached now
      const [h, p, s] = token.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const transplanted = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'mallory', roles: ['admin'] })).toString('base64url')}.${s}`;
      const forgeries = [transplanted, sameTail(token, token.indexOf('.') + 3), sameTail(token, token.lastIndexOf('.') + 1)];
      for (const forged of forgeries) {
        const res = await request(a).get('/me').set('Authorization', `Bearer ${forged}`);
        expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
        expect(JSON.stringify(res.body)).not.toMatch(/lou|mallory/);
      }
      expect((await request(a).get('/me').set('Authorization', `Bearer ${token}`).expect(200)).body.id).toBe('lou');
    } finally {
      await auth.close();
    }
  });

  it('sealed cookie session: a cookie value sharing a cached value\'s tail is refused', async () => {
    const { app: a, auth } = buildApp({ strategy: sessionCookie({ store: cookieStore({ secret }), secure: false }) });
    try {
      const value = await cookieValue(a, 'lou');
      await request(a).get('/me').set('Cookie', `sid=${value}`).expect(200); // opened and cached now
      const res = await request(a).get('/me').set('Cookie', `sid=${sameTail(value, 5)}`);
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
      expect(JSON.stringify(res.body)).not.toContain('lou');
      expect((await request(a).get('/me').set('Cookie', `sid=${value}`).expect(200)).body.id).toBe('lou');
    } finally {
      await auth.close();
    }
  });

  it('signed session id: another session id under a cached signature is refused, not answered as either session', async () => {
    const { app: a, auth } = buildApp({ strategy: sessionCookie({ secret, store: memoryStore(), secure: false }) });
    try {
      const lou = await cookieValue(a, 'lou');
      const max = await cookieValue(a, 'max');
      await request(a).get('/me').set('Cookie', `sid=${encodeURIComponent(lou)}`).expect(200); // unsigned and cached now
      // s:<max's sid>.<lou's signature>: lou's tail, max's session id
      const forged = `${max.slice(0, max.lastIndexOf('.'))}${lou.slice(lou.lastIndexOf('.'))}`;
      expect(forged.slice(-32)).toBe(lou.slice(-32));
      const res = await request(a).get('/me').set('Cookie', `sid=${encodeURIComponent(forged)}`);
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.body)).not.toMatch(/lou|max/);
      expect((await request(a).get('/me').set('Cookie', `sid=${encodeURIComponent(lou)}`).expect(200)).body.id).toBe('lou');
      expect((await request(a).get('/me').set('Cookie', `sid=${encodeURIComponent(max)}`).expect(200)).body.id).toBe('max');
    } finally {
      await auth.close();
    }
  });
});
