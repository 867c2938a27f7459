/**
 * statefulJwt and sessionCookie keeping their sessions in one store (Redis with the default prefix, or one
 * memoryStore()): the README's migration example during a rolling deploy (an old instance still on
 * sessionCookie, a new one on statefulJwt with `migrateFrom`), and both strategies in one principal().
 * Logins alternate between the strategies; `update` must change, and `revokeAll` end, every session of the
 * subject whichever strategy wrote it, and leave no session key nor index entry behind.
 *
 * The default prefix is the point of the Redis case, so it runs on a private redis-server (never on keys
 * other people's tests use).
 */
import express from 'express';
import request from 'supertest';
import { createClient } from 'redis';
import {
  memoryStore, principal, redisStore, requireAuth, sessionCookie, statefulJwt,
  type PrincipalMiddleware, type StateStore, type Strategy,
} from '../../lib';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';

const SESSION_SECRET = 'Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Klk8Jd02mXq9Lp3';
const JWT_SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const SUBJECT = 'alice';

let server: TestRedisServer;
let client: ReturnType<typeof createClient>;
const closers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  client = createClient({ url: server.url });
  client.on('error', () => undefined);
  await client.connect();
}, 30_000);
afterAll(async () => {
  for (const c of closers.reverse()) await c.close();
  client?.destroy();
  await server?.destroy();
});

type Kind = 'redis' | 'memory';
type Via = 'session-cookie' | 'stateful-jwt';

/** One store per test: on Redis, the default prefix (`ep:`) on the private server, emptied before each test. */
async function sharedStore(kind: Kind): Promise<StateStore> {
  if (kind === 'redis') await client.flushDb(); // the private server only
  const store = kind === 'redis' ? redisStore({ client: client as never }) : memoryStore();
  closers.push(store);
  return store;
}

const cookieSession = (store: StateStore) => sessionCookie({ secret: SESSION_SECRET, store, secure: false });
const statefulCookie = (store: StateStore) => statefulJwt({ secret: JWT_SECRET, store, carrier: 'cookie', cookie: { secure: false, name: 'ep_sf' } });

function appWith(auth: PrincipalMiddleware): express.Express {
  closers.push(auth);
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res, next) => {
    try {
      const via = req.body.via as Via | undefined;
      res.json(await req.auth.login({ id: SUBJECT, roles: ['editor'] }, via ? { strategy: via } : undefined));
    } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ strategy: req.principal?.strategy, roles: req.principal?.roles }));
  return app;
}

/** A logged-in device: its cookies, the app it talks to, and the strategy that issued its session. */
interface Device { cookie: string; app: express.Express; via: Via }

async function loginOn(app: express.Express, via: Via, named: boolean): Promise<Device> {
  const res = await request(app).post('/login').send(named ? { via } : {}).expect(200);
  const cookies = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
  expect(cookies.length).toBeGreaterThan(0);
  return { cookie: cookies.map((c) => c.split(';')[0]).join('; '), app, via };
}

const me = (app: express.Express, device: Device) => request(app).get('/me').set('Cookie', device.cookie);

/** The two setups under test: the auth whose update/revokeAll is called, and how each strategy logs a device in. */
interface Setup { auth: PrincipalMiddleware; apps: express.Express[]; login(via: Via): Promise<Device> }

async function migrationSetup(store: StateStore): Promise<Setup> {
  // Rolling deploy of the README's example: old instances still run sessionCookie, new ones statefulJwt.
  const oldAuth = principal({ strategy: cookieSession(store) });
  const newAuth = principal({ strategy: statefulCookie(store), migrateFrom: cookieSession(store) });
  const oldApp = appWith(oldAuth);
  const newApp = appWith(newAuth);
  return {
    auth: newAuth,
    apps: [oldApp, newApp],
    login: (via) => loginOn(via === 'session-cookie' ? oldApp : newApp, via, false),
  };
}

async function onePrincipalSetup(store: StateStore): Promise<Setup> {
  const strategies: Strategy[] = [statefulCookie(store), cookieSession(store)];
  const auth = principal({ strategy: strategies });
  const app = appWith(auth);
  return { auth, apps: [app], login: (via) => loginOn(app, via, true) };
}

async function leftovers(kind: Kind, store: StateStore): Promise<unknown[]> {
  if (kind === 'redis') return client.keys('ep:*');
  return store.indexMembers(SUBJECT);
}

const setups: [string, (store: StateStore) => Promise<Setup>][] = [
  ['migration: two principal() instances (sessionCookie, then statefulJwt with migrateFrom)', migrationSetup],
  ['one principal({ strategy: [statefulJwt, sessionCookie] })', onePrincipalSetup],
];

/** Three devices, alternating, so each strategy's login runs with the other strategy's session in the subject's index. */
async function threeDevices(setup: Setup): Promise<Device[]> {
  const devices = [await setup.login('session-cookie'), await setup.login('stateful-jwt'), await setup.login('session-cookie')];
  for (const d of devices) {
    const res = await me(d.app, d).expect(200);
    expect(res.body).toEqual({ strategy: d.via, roles: ['editor'] });
  }
  return devices;
}

describe.each<Kind>(['redis', 'memory'])('two strategies on one %s store', (kind) => {
  test.each(setups)('%s: revokeAll ends every session, whichever strategy wrote it, and leaves nothing behind', async (_name, make) => {
    const store = await sharedStore(kind);
    const setup = await make(store);
    const devices = await threeDevices(setup);

    await setup.auth.revokeAll(SUBJECT);
    for (const d of devices) {
      for (const app of setup.apps) await me(app, d).expect(401);
    }
    expect(await leftovers(kind, store)).toEqual([]);
  });

  test.each(setups)('%s: update changes every session, whichever strategy wrote it, and returns how many', async (_name, make) => {
    const store = await sharedStore(kind);
    const setup = await make(store);
    const devices = await threeDevices(setup);

    expect(await setup.auth.update(SUBJECT, { roles: ['viewer'] })).toBe(3);
    for (const d of devices) {
      const res = await me(d.app, d).expect(200);
      expect(res.body).toEqual({ strategy: d.via, roles: ['viewer'] });
    }
    await setup.auth.revokeAll(SUBJECT);
    expect(await setup.auth.update(SUBJECT, { roles: ['admin'] })).toBe(0);
    expect(await leftovers(kind, store)).toEqual([]);
  });
});
