/**
 * statefulJwt, sessionCookie and statelessJwt (with revocation) on postgresStore, over HTTP: the same lifecycle,
 * revokeAll and update as on memory and Redis, plus what the rows look like.
 */
import request from 'supertest';
import { sessionCookie, statefulJwt, statelessJwt, type Strategy } from '../../lib';
import { buildApp, credential, login, type TestApp } from '../helpers/apps';
import { createTestSchema, type TestSchema } from '../helpers/postgres';
import { uniquePrefix } from '../helpers/redis';
import { lifecycle, revokeAllEndsOnlyThatSubject, updateChangesRoles } from './lifecycle';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
let db: TestSchema;
const apps: TestApp[] = [];

beforeAll(async () => {
  db = await createTestSchema('strategies');
}, 30_000);
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await db?.drop();
});

type Kind = 'stateful-jwt' | 'stateful-jwt-cookie' | 'session-cookie' | 'stateless-jwt';

function make(kind: Kind, prefix = uniquePrefix(`pg-${kind}`), extra: Record<string, unknown> = {}): TestApp {
  const store = db.store({ prefix });
  const strategies: Record<Kind, () => Strategy> = {
    'stateful-jwt': () => statefulJwt({ secret, store, issuer: 'auth.test', audience: 'api.test', ...extra }),
    'stateful-jwt-cookie': () => statefulJwt({ secret, store, carrier: 'cookie', cookie: { secure: false }, ...extra }),
    'session-cookie': () => sessionCookie({ secret, store, secure: false, ...extra }),
    'stateless-jwt': () => statelessJwt({ secret, store, issuer: 'auth.test', audience: 'api.test', ...extra }),
  };
  const built = buildApp({ strategy: strategies[kind]() });
  apps.push(built);
  return built;
}

const name = (kind: Kind) => (kind === 'stateful-jwt-cookie' ? 'stateful-jwt' : kind);

describe.each<Kind>(['stateful-jwt', 'stateful-jwt-cookie', 'session-cookie', 'stateless-jwt'])('%s on postgresStore', (kind) => {
  test('login → /me → guards → logout → replay refused', async () => {
    const { app } = make(kind);
    await lifecycle(app, name(kind), 'refused');
  });

  test('revokeAll(subject) ends every session of that subject and no other', async () => {
    const { app, auth } = make(kind);
    await revokeAllEndsOnlyThatSubject(app, auth);
  });

  if (kind !== 'stateless-jwt') {
    test('update(subject, { roles }) changes roles on the next request', async () => {
      const { app, auth } = make(kind);
      await updateChangesRoles(app, auth);
    });
  }
});

test.each<Kind>(['stateful-jwt', 'session-cookie'])('%s: the record is a row under its prefixed key, indexed by subject; a deleted row ends the session', async (kind) => {
  const prefix = uniquePrefix(`pg-rows-${kind}`);
  const { app } = make(kind, prefix);
  const s = await login(app, { id: 'hank' });
  const key = `${prefix}${kind === 'session-cookie' ? 'sess' : 's'}:${s.sessionId}`;
  const rows = await db.pool.query(`SELECT key, expires_at > now() AS live FROM "${db.name}".ep_records WHERE starts_with(key, $1)`, [prefix]);
  expect(rows.rows).toEqual([{ key, live: true }]);
  const index = await db.pool.query(`SELECT subject, member FROM "${db.name}".ep_subject_index WHERE prefix = $1`, [prefix]);
  expect(index.rows).toEqual([{ subject: 'hank', member: s.sessionId }]);
  await request(app).get('/me').set(credential(s)).expect(200);
  await db.pool.query(`DELETE FROM "${db.name}".ep_records WHERE key = $1`, [key]);
  const res = await request(app).get('/me').set(credential(s));
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
});

test('statefulJwt: the idle slide goes through the conditional UPDATE; an idle session is refused', async () => {
  const prefix = uniquePrefix('pg-idle');
  const { app } = make('stateful-jwt', prefix, { idleTimeout: '2s', touchInterval: '100ms' });
  const s = await login(app, { id: 'jack' });
  const expiry = async () => Number((await db.pool.query(
    `SELECT extract(epoch FROM expires_at) * 1000 AS at FROM "${db.name}".ep_records WHERE starts_with(key, $1)`, [prefix],
  )).rows[0].at);
  const first = await expiry();
  await until(async () => {
    await request(app).get('/me').set(credential(s)).expect(200);
    return (await expiry()) > first;
  });
  const lastSeen = Date.now();
  await until(async () => Date.now() > lastSeen + 2_200);
  const res = await request(app).get('/me').set(credential(s));
  expect(res.status).toBe(401);
  expect(['ERR_CREDENTIAL_EXPIRED', 'ERR_INVALID_CREDENTIAL']).toContain(res.body.code);
});

async function until(cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
