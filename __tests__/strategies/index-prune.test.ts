/**
 * The per-subject index (for revokeAll / update) must not grow with every login: entries whose session
 * record is gone are dropped at the next login.
 */
import express from 'express';
import request from 'supertest';
import { memoryStore, principal, sessionCookie, statefulJwt, type StateStore, type Strategy } from '../../lib';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

const cases: [string, (store: StateStore) => Strategy, (sid: string) => string][] = [
  ['statefulJwt', (store) => statefulJwt({ secret, store }), (sid) => `s:${sid}`],
  ['sessionCookie', (store) => sessionCookie({ secret, store, secure: false }), (sid) => `sess:${sid}`],
];

describe.each(cases)('%s subject index', (_name, make, keyOf) => {
  it('drops entries of sessions that no longer exist when the subject logs in again', async () => {
    const store = memoryStore();
    const auth = principal({ strategy: make(store) });
    const app = express();
    app.use(auth);
    app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'kim' })); });
    const first = (await request(app).post('/login').expect(200)).body.sessionId as string;
    const second = (await request(app).post('/login').expect(200)).body.sessionId as string;
    expect((await store.indexMembers('kim')).sort()).toEqual([first, second].sort());
    await store.delete(keyOf(first)); // expired or deleted elsewhere
    const third = (await request(app).post('/login').expect(200)).body.sessionId as string;
    expect((await store.indexMembers('kim')).sort()).toEqual([second, third].sort());
    await auth.close();
    await store.close();
  });
});
