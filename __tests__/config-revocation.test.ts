/**
 * fromConfig: revocation for cookie-only sessions (revocationStorage) and the stateless revocation bound.
 */
import request from 'supertest';
import { fromConfig } from '../lib';
import { buildApp } from './helpers/apps';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

describe('fromConfig revocation', () => {
  it('a cookie-only session with revocationStorage is refused after logout, even replayed', async () => {
    const { app, auth } = buildApp({
      strategy: fromConfig({ strategy: 'session-cookie', storage: 'cookie', revocationStorage: 'memory', secret, secure: false }),
    });
    const login = await request(app).post('/login').send({ id: 'cara', roles: ['user'] }).expect(200);
    const cookie = (login.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string;
    await request(app).get('/me').set('Cookie', cookie).expect(200);
    await request(app).post('/logout').set('Cookie', cookie).expect(204);
    const replay = await request(app).get('/me').set('Cookie', cookie).expect(401);
    expect(replay.body.code).toBe('ERR_CREDENTIAL_REVOKED');
    await auth.close();
  });

  it('revokeAll works for cookie-only sessions with revocationStorage, and is unsupported without it', async () => {
    const withStore = buildApp({ strategy: fromConfig({ strategy: 'session-cookie', storage: 'cookie', revocationStorage: 'memory', secret, secure: false }) });
    const login = await request(withStore.app).post('/login').send({ id: 'dan' }).expect(200);
    const cookie = (login.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string;
    await withStore.auth.revokeAll('dan');
    expect((await request(withStore.app).get('/me').set('Cookie', cookie)).status).toBe(401);
    await withStore.auth.close();

    const without = buildApp({ strategy: fromConfig({ strategy: 'session-cookie', storage: 'cookie', secret, secure: false }) });
    await expect(without.auth.revokeAll('dan')).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    await without.auth.close();
  });

  it('refuses revocationStorage with a server-side storage, and redis revocation without a client', () => {
    expect(() => fromConfig({ strategy: 'session-cookie', storage: 'memory', revocationStorage: 'memory', secret })).toThrow(/only for storage 'cookie'/);
    expect(() => fromConfig({ strategy: 'session-cookie', storage: 'cookie', revocationStorage: 'redis', secret })).toThrow(/needs a connected client/);
  });

  it('passes maxRevocationLag through and validates it', () => {
    expect(() => fromConfig({ strategy: 'stateless-jwt', storage: 'memory', secret, maxRevocationLag: '1ms' })).toThrow(/maxRevocationLag/);
    expect(() => fromConfig({ strategy: 'stateless-jwt', storage: 'memory', secret, maxRevocationLag: '500ms' })).not.toThrow();
  });
});
