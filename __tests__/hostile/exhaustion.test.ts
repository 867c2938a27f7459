/**
 * Exhaustion (issue 3): oversized credentials are refused before decoding, huge claims are capped,
 * floods of bad credentials cost no Redis commands and no unbounded memory, and the three kinds of
 * "not a credential we know" answer byte-identically.
 */
import { Agent, createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import request from 'supertest';
import signature from 'cookie-signature';
import { createClient } from 'redis';
import { principal, redisStore, sessionCookie, statefulJwt, statelessJwt, type PrincipalMiddleware } from '../../lib';
import { rawCommand, startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { SECRET, SECRET2, buildApp, claims, forge, hs, type TestApp } from './support';

jest.setTimeout(120_000);

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const HS = { alg: 'HS256', typ: 'at+jwt' };
/** statefulJwt tokens are typed apart from access tokens. */
const HS_SESSION = { alg: 'HS256', typ: 'session+jwt' };
const garbage = (n: number) => '!'.repeat(n); // not even base64url: decoding it would give 401

let redis: TestRedisServer;
let client: ReturnType<typeof createClient>;
const opened: PrincipalMiddleware[] = [];
const servers: Server[] = [];

function track(auth: PrincipalMiddleware): TestApp {
  opened.push(auth);
  return buildApp(auth);
}

/** A server that accepts large headers (Node's default 16 KB would answer 431 itself). */
async function bigHeaderServer(t: TestApp): Promise<string> {
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, t.app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Calls per command (INFO commandstats): what the app sent to Redis. Left out: INFO itself, and the
 * revocation-log follower's blocking XREAD / XINFO, which run on their own connection on a timer
 * whatever the traffic (adapters/redis-log.ts), not per request.
 */
// The followers' own traffic, none of it per request: their reads, and their heartbeat (HSET + EXPIRE on `…rv:log:applied`).
const BACKGROUND = new Set(['info', 'xread', 'xinfo|stream', 'xinfo', 'client|setname', 'hello', 'select', 'hset', 'expire']);
const keepAlive = new Agent({ keepAlive: true, maxSockets: 50 });
/** A plain keep-alive GET (supertest opens a connection per request: too slow for a flood). */
function hit(url: string, name: string, value: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${url}/me`, { agent: keepAlive, headers: { [name]: value } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

async function commandCounts(): Promise<Record<string, number>> {
  const info = String(await rawCommand(redis.port, ['INFO', 'commandstats']));
  const counts: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) if (!BACKGROUND.has(m[1] as string)) counts[m[1] as string] = Number(m[2]);
  return counts;
}

/** Commands sent between two snapshots, by name (only those that changed). */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, n] of Object.entries(after)) if (n !== (before[cmd] ?? 0)) out[cmd] = n - (before[cmd] ?? 0);
  return out;
}
const total = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  redis = await startRedisServer();
  client = createClient({ url: redis.url });
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  for (const auth of opened) await auth.close();
  keepAlive.destroy();
  for (const s of servers) { s.closeAllConnections(); s.close(); }
  await client.close();
  await redis.destroy();
});

describe('credential size cap', () => {
  test('default cap (8 KB): a 9 KB garbage Authorization gets 431, the same garbage under the cap gets 401', async () => {
    const t = track(principal({ strategy: statelessJwt({ secret: SECRET }) }));
    const over = await request(t.app).get('/me').set('Authorization', `Bearer ${garbage(9 * 1024)}`);
    expect(over.status).toBe(431);
    expect(over.body.code).toBe('ERR_CREDENTIAL_TOO_LARGE');
    const under = await request(t.app).get('/me').set('Authorization', `Bearer ${garbage(8000)}`);
    expect(under.status).toBe(401);
    expect(under.body.code).toBe('ERR_INVALID_CREDENTIAL');
    // A non-Bearer scheme of 9 KB is capped too (the cap is on the header, before any parsing).
    expect((await request(t.app).get('/me').set('Authorization', `Basic ${garbage(9 * 1024)}`)).status).toBe(431);
    expect(t.escaped).toEqual([]);
  });

  test('a custom, smaller maxCredentialBytes', async () => {
    const t = track(principal({ strategy: statelessJwt({ secret: SECRET }), maxCredentialBytes: 1024 }));
    expect((await request(t.app).get('/me').set('Authorization', `Bearer ${garbage(2000)}`)).status).toBe(431);
    expect((await request(t.app).get('/me').set('Authorization', `Bearer ${garbage(900)}`)).status).toBe(401);
    const valid = forge(HS, claims({ pad: 'x'.repeat(1200) }), hs(SECRET));
    expect((await request(t.app).get('/me').set('Authorization', `Bearer ${valid}`)).status).toBe(431);
  });

  test('a custom, larger maxCredentialBytes lets a valid 10 KB token through', async () => {
    const t = track(principal({ strategy: statelessJwt({ secret: SECRET }), maxCredentialBytes: 16 * 1024 }));
    const url = await bigHeaderServer(t);
    const valid = forge(HS, claims({ pad: 'x'.repeat(7000) }), hs(SECRET));
    expect(valid.length).toBeGreaterThan(9 * 1024);
    expect((await request(url).get('/me').set('Authorization', `Bearer ${valid}`)).status).toBe(200);
    expect((await request(url).get('/me').set('Authorization', `Bearer ${garbage(17 * 1024)}`)).status).toBe(431);
  });

  test('cookie credentials over 8 KB get 431 on every cookie strategy', async () => {
    const apps = [
      track(principal({ strategy: statefulJwt({ secret: SECRET, store: redisStore({ client, prefix: 'cap:' }), carrier: 'cookie', cookie: { secure: false } }) })),
      track(principal({ strategy: sessionCookie({ secret: SECRET, store: redisStore({ client, prefix: 'cap:' }), secure: false }) })),
    ];
    for (const [t, name] of [[apps[0], 'ep'], [apps[1], 'sid']] as const) {
      const res = await request((t as TestApp).app).get('/me').set('Cookie', `${name}=${garbage(9 * 1024)}`);
      expect(res.status).toBe(431);
      expect((t as TestApp).escaped).toEqual([]);
    }
  });
});

describe('huge and deeply nested claims', () => {
  let url: string;
  let t: TestApp;
  beforeAll(async () => {
    t = track(principal({ strategy: statelessJwt({ secret: SECRET }), maxCredentialBytes: 512 * 1024 }));
    url = await bigHeaderServer(t);
  });
  const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: nested(depth - 1) });
  const get = (token: string, path = '/me') => request(url).get(path).set('Authorization', `Bearer ${token}`);

  test('claims nested 50 deep: 401, not 500 (and a shallow claim passes)', async () => {
    expect((await get(forge(HS, claims({ deep: nested(50) }), hs(SECRET)))).status).toBe(401);
    expect((await get(forge(HS, claims({ deep: [[[[[[[[[[[['x']]]]]]]]]]]] }), hs(SECRET)))).status).toBe(401);
    expect((await get(forge(HS, claims({ deep: nested(3) }), hs(SECRET)))).status).toBe(200);
  });

  test('a 10,000-element roles array (and a 10,000-element app claim): 401, not 500', async () => {
    const roles = Array.from({ length: 10_000 }, (_, i) => `r${i}`);
    roles.push('admin');
    const res = await get(forge(HS, claims({ roles }), hs(SECRET)), '/admin');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect((await get(forge(HS, claims({ scope: roles.join(' ') }), hs(SECRET)))).status).toBe(401);
    expect((await get(forge(HS, claims({ list: roles }), hs(SECRET)))).status).toBe(401);
    expect((await get(forge(HS, claims({ roles: ['admin', 'x'.repeat(300)] }), hs(SECRET)), '/admin')).status).toBe(401);
    expect((await get(forge(HS, claims({ roles: ['admin'] }), hs(SECRET)), '/admin')).status).toBe(200);
    expect(t.escaped).toEqual([]);
  });
});

describe('floods of bad credentials: no Redis amplification, bounded memory', () => {
  const FLOOD = 2_000;

  test(`${FLOOD} bad tokens, unknown kids and unknown session ids cost zero Redis commands`, async () => {
    const prefix = `flood-${randomBytes(3).toString('hex')}:`;
    const store = redisStore({ client, prefix });
    const stateless = track(principal({ strategy: statelessJwt({ keys: [{ kid: 'k1', secret: SECRET }], store }) }));
    const stateful = track(principal({ strategy: statefulJwt({ keys: [{ kid: 'k1', secret: SECRET }], store }) }));
    const sessions = track(principal({ strategy: sessionCookie({ secret: SECRET, store, secure: false }) }));
    const statelessUrl = await bigHeaderServer(stateless);
    const statefulUrl = await bigHeaderServer(stateful);
    const sessionUrl = await bigHeaderServer(sessions);
    const valid = forge({ ...HS, kid: 'k1' }, claims(), hs(SECRET));
    // Warm-up: one honest request per app, so lazy connections/scripts are not counted as the flood's.
    expect((await request(statelessUrl).get('/me').set('Authorization', `Bearer ${valid}`)).status).toBe(200);

    const floods: [string, string, (i: number) => [string, string]][] = [
      ['bad signature', statelessUrl, () => ['Authorization', `Bearer ${forge({ ...HS, kid: 'k1' }, claims(), hs(SECRET2))}`]],
      ['unknown kid', statelessUrl, (i) => ['Authorization', `Bearer ${forge({ ...HS, kid: `k-${i}` }, claims(), hs(SECRET))}`]],
      ['stateful bad signature', statefulUrl, () => ['Authorization', `Bearer ${forge({ ...HS_SESSION, kid: 'k1' }, claims({ sid: randomBytes(18).toString('base64url') }), hs(SECRET2))}`]],
      ['unknown session id (unsigned)', sessionUrl, () => ['Cookie', `sid=${randomBytes(24).toString('base64url')}`]],
      ['unknown session id (foreign signature)', sessionUrl, () => ['Cookie', `sid=${encodeURIComponent(`s:${signature.sign(randomBytes(24).toString('base64url'), SECRET2)}`)}`]],
    ];
    // Nothing else talks to this server: two back-to-back snapshots are equal.
    expect(delta(await commandCounts(), await commandCounts())).toEqual({});

    for (const [label, url, make] of floods) {
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const before = await commandCounts();
      for (let start = 0; start < FLOOD; start += 50) {
        const batch = Array.from({ length: 50 }, (_, j) => hit(url, ...make(start + j)));
        for (const code of await Promise.all(batch)) expect(code).toBe(401);
      }
      const after = await commandCounts();
      gc();
      const growthMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
      expect({ label, commands: delta(before, after) }).toEqual({ label, commands: {} });
      expect(growthMb).toBeLessThan(16);
    }
    for (const t of [stateless, stateful, sessions]) expect(t.escaped).toEqual([]);
  });

  test('a correctly signed but unknown session id costs one lookup, never more', async () => {
    const prefix = `flood2-${randomBytes(3).toString('hex')}:`;
    const store = redisStore({ client, prefix });
    const sessions = track(principal({ strategy: sessionCookie({ secret: SECRET, store, secure: false }) }));
    const stateful = track(principal({ strategy: statefulJwt({ secret: SECRET, store }) }));
    const N = 200;
    const cases: [TestApp, () => [string, string]][] = [
      [sessions, () => ['Cookie', `sid=${encodeURIComponent(`s:${signature.sign(randomBytes(24).toString('base64url'), SECRET)}`)}`]],
      [stateful, () => ['Authorization', `Bearer ${forge(HS_SESSION, claims({ sid: randomBytes(18).toString('base64url') }), hs(SECRET))}`]],
    ];
    for (const [t, make] of cases) {
      const before = await commandCounts();
      for (let i = 0; i < N; i += 1) {
        const [name, value] = make();
        expect((await request(t.app).get('/me').set(name, value)).status).toBe(401);
      }
      const cost = delta(before, await commandCounts());
      expect(cost).toEqual({ get: N });
      expect(total(cost)).toBe(N);
    }
  });
});

describe('bad signature, unknown kid and unknown session id are indistinguishable', () => {
  test('byte-identical status, body and challenge', async () => {
    const store = redisStore({ client, prefix: `same-${randomBytes(3).toString('hex')}:` });
    const stateless = track(principal({ strategy: statelessJwt({ keys: [{ kid: 'k1', secret: SECRET }] }) }));
    const stateful = track(principal({ strategy: statefulJwt({ keys: [{ kid: 'k1', secret: SECRET }], store }) }));
    const sessions = track(principal({ strategy: sessionCookie({ secret: SECRET, store, secure: false }) }));
    const bearer = async (t: TestApp, token: string) => request(t.app).get('/me').set('Authorization', `Bearer ${token}`);
    const answers = [
      await bearer(stateless, forge({ ...HS, kid: 'k1' }, claims(), hs(SECRET2))), // bad signature
      await bearer(stateless, forge({ ...HS, kid: 'nope' }, claims(), hs(SECRET))), // unknown kid
      await bearer(stateful, forge({ ...HS_SESSION, kid: 'k1' }, claims({ sid: 'never-issued' }), hs(SECRET))), // unknown session id
      await bearer(stateful, forge({ ...HS_SESSION, kid: 'k1' }, claims({ sid: 'never-issued' }), hs(SECRET2))), // stateful bad signature
    ];
    const first = answers[0] as request.Response;
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.text).toBe(first.text);
      expect(res.headers['www-authenticate']).toBe(first.headers['www-authenticate']);
      expect(res.headers['content-type']).toBe(first.headers['content-type']);
    }
    const cookies = [
      await request(sessions.app).get('/me').set('Cookie', `sid=${encodeURIComponent(`s:${signature.sign('never-issued', SECRET)}`)}`),
      await request(sessions.app).get('/me').set('Cookie', `sid=${encodeURIComponent(`s:${signature.sign('never-issued', SECRET2)}`)}`),
    ];
    for (const res of cookies) {
      expect(res.status).toBe(401);
      expect(res.text).toBe(first.text);
    }
  });
});
