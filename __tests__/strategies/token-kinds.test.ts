/**
 * statelessJwt and statefulJwt sharing a key must not accept each other's tokens: a stateful token carries
 * no roles and stays valid after its session is deleted only if something mistakes it for an access token.
 */
import express from 'express';
import request from 'supertest';
import { memoryStore, principal, requireAuth, statefulJwt, statelessJwt, type Strategy } from '../../lib';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

function app(strategy: Strategy) {
  const auth = principal({ strategy });
  const a = express();
  a.use(auth);
  a.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'ivy', roles: ['user'] })); });
  a.post('/logout', async (req, res) => { await req.auth.logout(); res.sendStatus(204); });
  a.get('/me', requireAuth(), (req, res) => { res.json({ strategy: req.principal?.strategy }); });
  return { a, auth };
}

describe('token kinds', () => {
  it('a logged-out statefulJwt token is not accepted by a statelessJwt with the same secret', async () => {
    const stateful = app(statefulJwt({ secret, store: memoryStore() }));
    const stateless = app(statelessJwt({ secret }));
    const token = (await request(stateful.a).post('/login').expect(200)).body.token as string;
    expect(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()).typ).toBe('session+jwt');
    await request(stateful.a).post('/logout').set('Authorization', `Bearer ${token}`).expect(204);
    await request(stateful.a).get('/me').set('Authorization', `Bearer ${token}`).expect(401);
    const res = await request(stateless.a).get('/me').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    await Promise.all([stateful.auth.close(), stateless.auth.close()]);
  });

  it('a statelessJwt access token is not accepted by a statefulJwt with the same secret', async () => {
    const stateful = app(statefulJwt({ secret, store: memoryStore() }));
    const stateless = app(statelessJwt({ secret }));
    const token = (await request(stateless.a).post('/login').expect(200)).body.token as string;
    await request(stateless.a).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    const res = await request(stateful.a).get('/me').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    await Promise.all([stateful.auth.close(), stateless.auth.close()]);
  });
});
