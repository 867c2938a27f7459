/**
 * auth.update(subject, patch) for stateful strategies (statefulJwt, sessionCookie; memory and Redis):
 * a demotion reaches every live session of the subject on its next request, and only that subject.
 */
import request from 'supertest';
import { memoryStore, redisStore, sessionCookie, statefulJwt, statelessJwt, type StateStore, type Strategy } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { COOKIE_SECRET, SECRET, freshApp, loginAs, withCredential, type FreshApp } from './support';

let client: TestRedisClient;
const prefix = uniquePrefix('freshness-update');
const built: FreshApp[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

const store = (kind: 'memory' | 'redis', p: string): StateStore => (kind === 'memory' ? memoryStore({ prefix: p }) : redisStore({ client, prefix: p }));
const cases: { name: string; cookie?: string; make(p: string): Strategy }[] = [];
for (const kind of ['memory', 'redis'] as const) {
  cases.push({ name: `statefulJwt ${kind}`, make: (p) => statefulJwt({ secret: SECRET, store: store(kind, p) }) });
  cases.push({ name: `sessionCookie ${kind}`, cookie: 'sid', make: (p) => sessionCookie({ secret: COOKIE_SECRET, store: store(kind, p), secure: false }) });
}

test.each(cases)('auth.update × $name: demotion takes effect on the next request of every session of that subject', async (c) => {
  const fa = freshApp({ strategy: c.make(`${prefix}${n++}:`) });
  built.push(fa);
  const laptop = await loginAs(fa.app, { id: 'alice', roles: ['admin'] }, c.cookie);
  const phone = await loginAs(fa.app, { id: 'alice', roles: ['admin'] }, c.cookie);
  const bob = await loginAs(fa.app, { id: 'bob', roles: ['admin'] }, c.cookie);
  for (const s of [laptop, phone, bob]) await withCredential(request(fa.app).get('/admin'), s.credential).expect(200);

  await expect(fa.auth.update('alice', { roles: ['viewer'] })).resolves.toBe(2);

  for (const s of [laptop, phone]) {
    const res = await withCredential(request(fa.app).get('/admin'), s.credential).expect(403);
    expect(res.body.code).toBe('ERR_FORBIDDEN');
    const me = await withCredential(request(fa.app).get('/me'), s.credential).expect(200);
    expect(me.body.roles).toEqual(['viewer']);
  }
  await withCredential(request(fa.app).get('/admin'), bob.credential).expect(200);
  // And back up: promotions too.
  await fa.auth.update('alice', { roles: ['admin'] });
  await withCredential(request(fa.app).get('/admin'), laptop.credential).expect(200);
});

test('auth.update on statelessJwt says to use refreshPrincipal (ERR_NOT_SUPPORTED)', async () => {
  const fa = freshApp({ strategy: statelessJwt({ secret: SECRET }) });
  built.push(fa);
  await expect(fa.auth.update('alice', { roles: [] })).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED', message: expect.stringMatching(/refreshPrincipal/) });
});
