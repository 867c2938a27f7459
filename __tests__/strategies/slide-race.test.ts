/**
 * Sliding the idle deadline rewrites the session record. A logout / revokeAll or a role change that lands
 * between the slide's read and its write must win: the slide is a compare-and-set, never a blind write.
 */
import express from 'express';
import request from 'supertest';
import { memoryStore, principal, redisStore, requireAuth, sessionCookie, statefulJwt, type StateStore, type Strategy } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
let client: TestRedisClient;
const prefix = uniquePrefix('slide-race');
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => { await cleanupPrefix(client, prefix); await client.close(); });

/**
 * The same store, with the next read held back (after it read) until `release()`: a window between read and write.
 * `hold()` resolves once a read is held, so the test acts inside the window whatever the machine's load (with a
 * fixed delay instead, a slow run let the concurrent update take the gate and wait for a release that never came).
 */
function gated(inner: StateStore) {
  let gate: Promise<void> | null = null;
  let open: () => void = () => undefined;
  let reached: () => void = () => undefined;
  const store: StateStore = Object.assign(Object.create(inner) as StateStore, {
    async get(key: string) {
      const value = await inner.get(key);
      const held = gate;
      gate = null;
      if (held) {
        reached();
        await held;
      }
      return value;
    },
  });
  return {
    store,
    hold(): Promise<void> {
      gate = new Promise((resolve) => { open = resolve; });
      return new Promise((resolve) => { reached = resolve; });
    },
    release() { open(); },
  };
}

type Make = (store: StateStore) => Strategy;
const cases: [string, Make, 'memory' | 'redis'][] = [
  ['statefulJwt / memory', (store) => statefulJwt({ secret, store, touchInterval: '1ms' }), 'memory'],
  ['statefulJwt / redis', (store) => statefulJwt({ secret, store, touchInterval: '1ms' }), 'redis'],
  ['sessionCookie / memory', (store) => sessionCookie({ secret, store, secure: false, touchInterval: '1ms' }), 'memory'],
  ['sessionCookie / redis', (store) => sessionCookie({ secret, store, secure: false, touchInterval: '1ms' }), 'redis'],
];

describe.each(cases)('%s', (name, make, kind) => {
  function build() {
    const base = kind === 'memory' ? memoryStore() : redisStore({ client, prefix: `${prefix}${name.replace(/\W/g, '')}:` });
    const g = gated(base);
    const auth = principal({ strategy: make(g.store) });
    const app = express();
    app.use(auth);
    app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'eve', roles: ['admin'] })); });
    app.get('/me', requireAuth(), (req, res) => { res.json({ roles: req.principal?.roles }); });
    return { app, auth, g };
  }
  async function credential(app: express.Express): Promise<[string, string]> {
    const res = await request(app).post('/login').expect(200);
    if (res.body.token) return ['Authorization', `Bearer ${res.body.token as string}`];
    return ['Cookie', (res.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string];
  }
  const waitTick = () => new Promise((resolve) => setTimeout(resolve, 5));

  it('a revokeAll during a slide is not undone by the slide', async () => {
    const { app, auth, g } = build();
    const [h, v] = await credential(app);
    await waitTick();
    const held = g.hold();
    const inFlight = request(app).get('/me').set(h, v).then((r) => r.status);
    await held;
    await auth.revokeAll('eve');
    g.release();
    await inFlight; // it started before the revocation finished: either answer is acceptable
    expect((await request(app).get('/me').set(h, v)).status).toBe(401);
    await auth.close();
  });

  it('a demotion during a slide is not reverted by the slide', async () => {
    const { app, auth, g } = build();
    const [h, v] = await credential(app);
    await waitTick();
    const held = g.hold();
    const inFlight = request(app).get('/me').set(h, v).then((r) => r.status);
    await held;
    expect(await auth.update('eve', { roles: ['user'] })).toBe(1);
    g.release();
    await inFlight;
    await waitTick();
    const after = await request(app).get('/me').set(h, v).expect(200);
    expect(after.body.roles).toEqual(['user']);
    await auth.close();
  });
});
