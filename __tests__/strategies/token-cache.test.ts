/**
 * The verified-token cache (on by default) skips signature work for a token seen before, but never
 * outlives the token's exp and never lets a revoked token through: revocation runs on every request.
 */
import express from 'express';
import request from 'supertest';
import { memoryStore, principal, requireAuth, statelessJwt, type Strategy } from '../../lib';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

function app(strategy: Strategy) {
  const auth = principal({ strategy });
  const a = express();
  a.use(auth);
  a.post('/login', async (req, res) => { res.json(await req.auth.login({ id: req.get('x-user') ?? 'lou', roles: ['user'] })); });
  a.post('/logout', async (req, res) => { await req.auth.logout(); res.sendStatus(204); });
  a.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  return { a, auth };
}

describe('verified-token cache', () => {
  it('never serves a cached token past its exp', async () => {
    const { a, auth } = app(statelessJwt({ secret, ttl: '2s', clockTolerance: 0 }));
    const token = (await request(a).post('/login').expect(200)).body.token as string;
    const exp = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp as number;
    await request(a).get('/me').set('Authorization', `Bearer ${token}`).expect(200); // now cached
    let last = 200;
    while (Date.now() < exp * 1000 + 1500) {
      // Judged by when the request left: one sent just before exp is rightly served even if its answer lands after.
      const sentAt = Date.now();
      last = (await request(a).get('/me').set('Authorization', `Bearer ${token}`)).status;
      if (sentAt >= exp * 1000) {
        expect(last).toBe(401);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const res = await request(a).get('/me').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.body.code).toBe('ERR_CREDENTIAL_EXPIRED');
    await auth.close();
  });

  it('a cached token revoked by logout or revokeAll is refused on the next request', async () => {
    const { a, auth } = app(statelessJwt({ secret, store: memoryStore() }));
    const one = (await request(a).post('/login').expect(200)).body.token as string;
    for (let i = 0; i < 3; i += 1) await request(a).get('/me').set('Authorization', `Bearer ${one}`).expect(200);
    await request(a).post('/logout').set('Authorization', `Bearer ${one}`).expect(204);
    expect((await request(a).get('/me').set('Authorization', `Bearer ${one}`).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');

    const two = (await request(a).post('/login').set('x-user', 'max').expect(200)).body.token as string;
    await request(a).get('/me').set('Authorization', `Bearer ${two}`).expect(200);
    await auth.revokeAll('max');
    expect((await request(a).get('/me').set('Authorization', `Bearer ${two}`).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');
    await auth.close();
  });

  it('a small cache still answers every token correctly (eviction is only a cost, never an error)', async () => {
    const { a, auth } = app(statelessJwt({ secret, cache: { max: 2 } }));
    const tokens: string[] = [];
    for (let i = 0; i < 5; i += 1) tokens.push((await request(a).post('/login').set('x-user', `u${i}`).expect(200)).body.token as string);
    for (let round = 0; round < 2; round += 1) {
      for (const [i, token] of tokens.entries()) {
        expect((await request(a).get('/me').set('Authorization', `Bearer ${token}`).expect(200)).body.id).toBe(`u${i}`);
      }
    }
    await auth.close();
  });
});
