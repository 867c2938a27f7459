/**
 * A revokeAll mark lives as long as this strategy's longest token. A token that would outlive it
 * (minted by an issuer with a longer ttl) must be refused when a revocation store is configured,
 * or it would come back to life once the mark expires.
 */
import express from 'express';
import request from 'supertest';
import { memoryStore, principal, requireAuth, statelessJwt } from '../../lib';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

function app(ttl: string, withStore: boolean) {
  const auth = principal({ strategy: statelessJwt({ secret, ttl, ...(withStore ? { store: memoryStore() } : {}) }) });
  const a = express();
  a.use(auth);
  a.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'bob' })); });
  a.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  return { a, auth };
}

describe('statelessJwt with a revocation store: token lifetime', () => {
  it('refuses a token that lives longer than its own ttl (a revokeAll mark could not cover it)', async () => {
    const issuer = app('30s', false);
    const verifier = app('1s', true);
    const token = (await request(issuer.a).post('/login').expect(200)).body.token as string;
    const res = await request(verifier.a).get('/me').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    // Its own tokens, and tokens of an issuer with the same ttl, are fine.
    const own = (await request(verifier.a).post('/login').expect(200)).body.token as string;
    await request(verifier.a).get('/me').set('Authorization', `Bearer ${own}`).expect(200);
    await Promise.all([issuer.auth.close(), verifier.auth.close()]);
  });

  it('without a store, a longer-lived token is accepted (no revocation to outlive)', async () => {
    const issuer = app('30s', false);
    const verifier = app('1s', false);
    const token = (await request(issuer.a).post('/login').expect(200)).body.token as string;
    await request(verifier.a).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    await Promise.all([issuer.auth.close(), verifier.auth.close()]);
  });
});
