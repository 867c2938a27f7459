/**
 * Where a failure comes from decides the answer. A bug (in a strategy, a claims mapping, a loader) stays an
 * error: Express answers it (500) and the app's error handler gets the error itself, never a 503 and never an
 * anonymous request. An issuer whose JWKS cannot be fetched is 503 ERR_KEYS_UNAVAILABLE with Retry-After; a
 * store that is down stays 503 ERR_STORE_UNAVAILABLE (errors.test.ts, faults/store-faults.test.ts).
 * Real Express apps over supertest, a real JWKS server on loopback; the bugs are real code that throws.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import {
  AuthError, KeysUnavailableError, StoreUnavailableError, principal, requireAuth, sessionCookie, statefulJwt, statelessJwt, memoryStore,
  type Identity, type PrincipalMiddleware, type Strategy,
} from '../lib';
import { buildApp, credential, login, type TestApp } from './helpers/apps';
import { AUDIENCE, ISSUER, ecKeys, listen, publicJwk, startJwksServer, type Listening } from './microservice/support';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

function make(options: Parameters<typeof buildApp>[0]): TestApp {
  const built = buildApp(options);
  closers.push(() => built.auth.close());
  return built;
}

/** An app with no error handler of its own: Express's default one answers whatever reaches it. */
function bareApp(auth: PrincipalMiddleware): express.Express {
  closers.push(() => auth.close());
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => { res.json(req.principal); });
  app.get('/open', (req, res) => { res.json({ principal: req.principal?.id ?? null, error: req.auth.error?.code ?? null }); });
  return app;
}

/** A real strategy whose `authenticate` has a bug: it reads a name that does not exist. */
function withBuggyAuthenticate(strategy: Strategy, bug: Error): Strategy {
  return Object.assign(Object.create(strategy) as Strategy, { authenticate: () => { throw bug; } });
}

describe('a bug is an error (500 through Express), never a 503, never anonymous', () => {
  test("a claims mapping that throws a TypeError: Express's default handler answers 500, without the token", async () => {
    const issuer = make({ strategy: statelessJwt({ secret }) });
    const token = (await login(issuer.app, { id: 'u', roles: ['admin'] })).token as string;
    // Reads `profile.name` of a payload that has no `profile`: a TypeError at request time.
    const mapping = { map: (p: Readonly<Record<string, unknown>>): Identity => ({ id: (p.profile as { name: string }).name }) };
    const app = bareApp(principal({ strategy: statelessJwt({ secret, claims: mapping }) }));
    for (const path of ['/me', '/open']) {
      const res = await request(app).get(path).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(500);
      expect(res.text).toMatch(/TypeError/);
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain(token.split('.')[2]);
      expect(res.text).not.toContain('ERR_STORE_UNAVAILABLE');
    }
  });

  test.each(['respond', 'next'] as const)("onError: '%s': the app's error handler receives the strategy's own error", async (onError) => {
    const bug = new ReferenceError('sessionIdOf is not defined');
    const t = make({ strategy: withBuggyAuthenticate(statelessJwt({ secret }), bug), onError });
    const res = await request(t.app).get('/open').set('Authorization', 'Bearer a.b.c');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ code: 'ERR_INTERNAL', status: 500, handledBy: 'app' });
    expect(t.errors).toEqual([bug]);
    expect(t.errors[0]).toBe(bug);
  });

  test('the same through the full pipeline (two strategies): the original error, not a 503', async () => {
    const bug = new ReferenceError('recordOf is not defined');
    const stateful = statefulJwt({ secret, store: memoryStore() });
    const t = make({ strategy: [withBuggyAuthenticate(stateful, bug), statelessJwt({ secret: `${secret}-2` })], onError: 'next' });
    const res = await request(t.app).get('/me').set('Authorization', 'Bearer a.b.c');
    expect(res.status).toBe(500);
    expect(t.errors).toEqual([bug]);
  });

  test('a bug in the strategy of a second credential (the conflict check) is a 500, not ignored', async () => {
    const bug = new ReferenceError('sessionOf is not defined');
    const cookies = withBuggyAuthenticate(sessionCookie({ secret, store: memoryStore(), secure: false }), bug);
    const t = make({ strategy: [statelessJwt({ secret }), cookies], onError: 'next' });
    const s = await login(t.app, { id: 'u' });
    const res = await request(t.app).get('/me').set(credential(s)).set('Cookie', 'sid=s%3Aabc.def');
    expect(res.status).toBe(500);
    expect(t.errors).toEqual([bug]);
  });

  test('a bug in the migrateFrom strategy a refused credential falls back to is a 500, not that refusal', async () => {
    const bug = new ReferenceError('legacyKeyOf is not defined');
    const t = make({
      strategy: statefulJwt({ secret: `${secret}-2`, store: memoryStore() }),
      migrateFrom: withBuggyAuthenticate(statelessJwt({ secret }), bug),
      onError: 'next',
    });
    const res = await request(t.app).get('/me').set('Authorization', 'Bearer a.b.c');
    expect(res.status).toBe(500);
    expect(t.errors).toEqual([bug]);
  });

  test('refreshPrincipal.load: a bug in it is a 500 with that error; its backend failing stays 503 ERR_STORE_UNAVAILABLE', async () => {
    let failure: Error = new ReferenceError('usersTable is not defined');
    const load = async (): Promise<Identity | null> => { throw failure; };
    // maxAge 1ms: once the clock moved on from the login, every request reloads the principal.
    const t = make({ strategy: statelessJwt({ secret }), refreshPrincipal: { maxAge: '1ms', load } });
    const s = await login(t.app, { id: 'alice', roles: ['user'] });
    const loggedInBy = Date.now();
    await waitUntil(() => Date.now() > loggedInBy + 1);
    const buggy = await request(t.app).get('/me').set(credential(s));
    expect(buggy.status).toBe(500);
    expect(t.errors).toEqual([failure]);
    failure = new Error('user database down');
    const down = await request(t.app).get('/me').set(credential(s));
    expect(down.status).toBe(503);
    expect(down.body.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(down.headers['retry-after']).toBe('1');
  });

  test('req.auth.login() rejects with the original error of a strategy whose login has a bug', async () => {
    const bug = new ReferenceError('signerOf is not defined');
    const real = statelessJwt({ secret });
    const t = make({ strategy: Object.assign(Object.create(real) as Strategy, { login: async () => { throw bug; } }) });
    const res = await request(t.app).post('/login').send({ id: 'u' });
    expect(res.status).toBe(500);
    expect(t.errors).toEqual([bug]);
  });

  test('auth.revokeAll() and auth.update() reject with the original error', async () => {
    const bug = new ReferenceError('indexOf is not defined');
    const real = statefulJwt({ secret, store: memoryStore() });
    const t = make({
      strategy: Object.assign(Object.create(real) as Strategy, {
        revokeAll: async () => { throw bug; },
        update: async () => { throw bug; },
      }),
    });
    await expect(t.auth.revokeAll('u')).rejects.toBe(bug);
    await expect(t.auth.update('u', { roles: [] })).rejects.toBe(bug);
  });

  test('migrateFrom: a bug in the new strategy is a 500, not a silently failed move on the old credential', async () => {
    const bug = new ReferenceError('issueFor is not defined');
    const old = statelessJwt({ secret });
    const issuer = make({ strategy: old });
    const s = await login(issuer.app, { id: 'u' });
    const next = Object.assign(Object.create(statefulJwt({ secret: `${secret}-2`, store: memoryStore() })) as Strategy, {
      login: async () => { throw bug; },
    });
    const t = make({ strategy: next, migrateFrom: statelessJwt({ secret }), onError: 'next' });
    const migrated: unknown[] = [];
    t.auth.on('migrated', (outcome) => { migrated.push(outcome); });
    const res = await request(t.app).get('/me').set(credential(s));
    expect(res.status).toBe(500);
    expect(t.errors).toEqual([bug]);
    expect(migrated).toEqual([]);
  });

  test('migrateFrom: a bug in ending the old credential is a 500, not a move reported with oldRevoked: false', async () => {
    const bug = new ReferenceError('denyListOf is not defined');
    const issuer = make({ strategy: statelessJwt({ secret }) });
    const s = await login(issuer.app, { id: 'u' });
    const old = Object.assign(Object.create(statelessJwt({ secret, store: memoryStore() })) as Strategy, {
      logout: async () => { throw bug; },
    });
    const t = make({ strategy: statefulJwt({ secret: `${secret}-2`, store: memoryStore() }), migrateFrom: old, onError: 'next' });
    const res = await request(t.app).get('/me').set(credential(s));
    expect(res.status).toBe(500);
    expect(t.errors).toEqual([bug]);
  });
});

describe('verification keys that cannot be fetched: 503 ERR_KEYS_UNAVAILABLE', () => {
  const keys = ecKeys();
  function mint(): string {
    const now = Math.floor(Date.now() / 1000);
    return jwt.sign({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now, exp: now + 300 }, keys.privateKey, {
      algorithm: 'ES256', header: { alg: 'ES256', typ: 'at+jwt', kid: 'k1' },
    });
  }
  function verifier(jwksUri: string, cooldown: string): { app: express.Express; auth: PrincipalMiddleware } {
    const auth = principal({ strategy: statelessJwt({ jwksUri, issuer: ISSUER, audience: AUDIENCE, jwks: { cooldown, timeout: '2s' } }) });
    return { app: bareApp(auth), auth };
  }

  test('issuer down (its server closed): 503 with Retry-After until the next fetch may run, problem+json without the token', async () => {
    const server = await startJwksServer(() => ({ keys: [publicJwk(keys.publicKey, 'k1', 'ES256')] }));
    await server.stop();
    closers.push(() => server.close());
    const { app, auth } = verifier(server.url, '20s');
    const rejected: string[] = [];
    auth.on('rejected', (code) => { rejected.push(code); });
    const token = mint();
    const first = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
    expect(first.status).toBe(503);
    expect(first.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(first.body).toMatchObject({ status: 503, code: 'ERR_KEYS_UNAVAILABLE' });
    expect(first.headers['retry-after']).toBe('20');
    expect(first.text + JSON.stringify(first.headers)).not.toContain(token);
    // Within the cooldown the issuer is not asked again: the same answer, with what is left of the wait.
    const again = await request(app).get('/open').set('Authorization', `Bearer ${token}`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ principal: null, error: 'ERR_KEYS_UNAVAILABLE' });
    const third = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
    expect(third.status).toBe(503);
    const left = Number(third.headers['retry-after']);
    expect(left).toBeGreaterThanOrEqual(1);
    expect(left).toBeLessThanOrEqual(20);
    expect(server.requests).toBe(0);
    expect(rejected).toEqual(['ERR_KEYS_UNAVAILABLE', 'ERR_KEYS_UNAVAILABLE', 'ERR_KEYS_UNAVAILABLE']);
  });

  test('issuer answering 500: 503 ERR_KEYS_UNAVAILABLE, never 401 or 200', async () => {
    let answered = 0;
    const failing: Listening = await listen((_req: IncomingMessage, res: ServerResponse) => { answered += 1; res.statusCode = 500; res.end('internal error'); });
    closers.push(() => failing.close());
    const { app } = verifier(`${failing.url}/.well-known/jwks.json`, '0s');
    const res = await request(app).get('/me').set('Authorization', `Bearer ${mint()}`);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('ERR_KEYS_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('1');
    expect(answered).toBe(1);
  });

  test('KeysUnavailableError is an AuthError with its own code, distinct from the store being down', () => {
    const err = new KeysUnavailableError(new Error('connect ECONNREFUSED'), 30);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).not.toBeInstanceOf(StoreUnavailableError);
    expect(err).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503, name: 'KeysUnavailableError' });
    expect(err.headers['Retry-After']).toBe('30');
  });
});

/** Polls (no fixed sleep) until `check` holds; the clock only has to pass a point. */
async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}
