/**
 * Fuzzing (issue 3): random strings, mutated valid credentials, random cookies and headers against
 * every strategy. The untouched valid credential always gets 200 with its principal; anything else
 * gets 400/401/403/431/503 — never a 500, never an error reaching the app's error handler.
 */
import fc from 'fast-check';
import request from 'supertest';
import { cookieStore, memoryStore, principal, redisStore, sessionCookie, statefulJwt, statelessJwt, type PrincipalMiddleware } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET, SECRET2, buildApp, closeAgent, cookiePair, listen, send, type Listening, type TestApp } from './support';

jest.setTimeout(120_000);

const RUNS = 200;
const REFUSED = new Set([400, 401, 403, 431, 503]);

interface Target {
  name: string;
  make(): PrincipalMiddleware;
  /** How the credential travels: a Bearer header or a cookie with this name. */
  carrier: { header: true } | { cookie: string };
  /** Whether two credential strings mean the same thing to this carrier (percent-encoding, base64url spare bits). */
  same?(a: string, b: string): boolean;
}

let client: TestRedisClient;
const prefix = uniquePrefix('hostile-fuzz');
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** A cookie value as RFC 6265 parsers read it: one pair of surrounding quotes dropped, then percent-decoded. */
const decoded = (raw: string) => {
  const s = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  try { return decodeURIComponent(s); } catch { return s; }
};
const sameCookie = (a: string, b: string) => decoded(a) === decoded(b);
// The sealed cookie is refused unless its base64url is canonical (adapters/cookie.ts), so a spelling with the spare
// bits changed is a different credential: only the cookie-level spellings (quotes, percent-encoding) are the same.
const sameSealed = sameCookie;

const targets: Target[] = [
  { name: 'statelessJwt header', carrier: { header: true }, make: () => principal({ strategy: statelessJwt({ secret: SECRET }) }) },
  { name: 'statelessJwt header + revocation store', carrier: { header: true }, make: () => principal({ strategy: statelessJwt({ secret: SECRET, store: memoryStore({ prefix: 'fz0:' }) }) }) },
  {
    name: 'statelessJwt cookie', carrier: { cookie: 'ep' }, same: sameCookie,
    make: () => principal({ strategy: statelessJwt({ secret: SECRET, carrier: 'cookie', cookie: { secure: false } }) }),
  },
  { name: 'statefulJwt header + memory', carrier: { header: true }, make: () => principal({ strategy: statefulJwt({ secret: SECRET, store: memoryStore({ prefix: 'fz1:' }) }) }) },
  {
    name: 'statefulJwt cookie + redis', carrier: { cookie: 'ep' }, same: sameCookie,
    make: () => principal({ strategy: statefulJwt({ secret: SECRET, store: redisStore({ client, prefix }), carrier: 'cookie', cookie: { secure: false } }) }),
  },
  { name: 'sessionCookie + memory', carrier: { cookie: 'sid' }, same: sameCookie, make: () => principal({ strategy: sessionCookie({ secret: SECRET, store: memoryStore({ prefix: 'fz2:' }), secure: false }) }) },
  { name: 'sessionCookie + redis', carrier: { cookie: 'sid' }, same: sameCookie, make: () => principal({ strategy: sessionCookie({ secret: SECRET, store: redisStore({ client, prefix }), secure: false }) }) },
  { name: 'sessionCookie + cookieStore', carrier: { cookie: 'sid' }, same: sameSealed, make: () => principal({ strategy: sessionCookie({ store: cookieStore({ secret: SECRET2 }), secure: false }) }) },
];

beforeAll(async () => {
  client = await connectRedis();
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  closeAgent();
  await cleanupPrefix(client, prefix);
  await client.close();
  expect(unhandled).toEqual([]);
});

/* ------------------------------------------------------------ arbitraries */

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const text = (maxLength = 120) => fc.string({ unit: printable, maxLength });
const b64chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=%'.split(''));

/** A mutation of `valid`: bit flips, segment swaps, truncation, insertion, duplication, case flips. */
function mutated(valid: string): fc.Arbitrary<string> {
  const n = valid.length;
  const at = fc.nat({ max: Math.max(0, n - 1) });
  const parts = valid.split('.');
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 0, max: 6 })).map(([i, bit]) => {
      const code = valid.charCodeAt(i) ^ (1 << bit);
      return code < 0x21 || code > 0x7e ? valid : valid.slice(0, i) + String.fromCharCode(code) + valid.slice(i + 1);
    }),
    fc.tuple(fc.nat({ max: parts.length - 1 }), fc.nat({ max: parts.length - 1 })).map(([i, j]) => {
      const p = [...parts];
      [p[i], p[j]] = [p[j] as string, p[i] as string];
      return p.join('.');
    }),
    at.map((i) => valid.slice(0, i)),
    at.map((i) => valid.slice(i)),
    fc.tuple(at, b64chars).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i)),
    fc.tuple(at, b64chars).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)),
    at.map((i) => valid.slice(0, i) + valid.slice(i + 1)),
    fc.constant(`${valid}.${valid}`),
    fc.constant(`${valid}${valid}`),
    fc.constant(parts.slice(0, -1).join('.')),
    fc.constant([...parts, parts.at(-1)].join('.')),
    at.map((i) => valid.slice(0, i) + valid.slice(i).toUpperCase()),
    fc.constant(`"${valid}"`),
    fc.constant(encodeURIComponent(valid)),
  );
}

/* ------------------------------------------------------------ the suites */

describe.each(targets)('$name', (target) => {
  let auth: PrincipalMiddleware;
  let t: TestApp;
  let server: Listening;
  let valid: string;

  const credential = (value: string): Record<string, string> =>
    'header' in target.carrier ? { Authorization: `Bearer ${value}` } : { Cookie: `${target.carrier.cookie}=${value}` };

  beforeAll(async () => {
    auth = target.make();
    t = buildApp(auth);
    server = await listen(t.app);
    const res = await request(t.app).post('/login').send({ id: 'fuzzer', roles: ['user'] });
    expect(res.status).toBe(200);
    if ('header' in target.carrier) valid = res.body.token as string;
    else {
      const pair = cookiePair(res.headers['set-cookie'] as unknown as string[], target.carrier.cookie);
      valid = (pair as string).slice(target.carrier.cookie.length + 1);
    }
    expect(typeof valid).toBe('string');
  });
  afterAll(async () => {
    await server.close();
    await auth.close();
  });
  afterEach(() => expect(t.escaped).toEqual([]));

  async function expectValid(headers: Record<string, string>, method = 'GET', path = '/me'): Promise<void> {
    const res = await send(server.url, method, path, headers);
    expect(res.status).toBe(200);
    expect((res.body as { id?: string }).id).toBe('fuzzer');
  }
  async function expectRefused(headers: Record<string, string>, method = 'GET', path = '/me'): Promise<number> {
    const res = await send(server.url, method, path, headers);
    if (!REFUSED.has(res.status)) throw new Error(`${method} ${path} answered ${res.status} for ${JSON.stringify(headers).slice(0, 300)}`);
    return res.status;
  }

  test('the untouched valid credential passes (control)', async () => {
    await expectValid(credential(valid));
    await expectValid(credential(valid), 'DELETE', '/thing');
  });

  test('random strings as the credential are refused, never 500', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(text(), fc.stringMatching(/^[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}$/)), async (s) => {
      await expectRefused(credential(s));
    }), { numRuns: RUNS });
  });

  test('mutated valid credentials are refused unless they mean the same credential', async () => {
    await fc.assert(fc.asyncProperty(mutated(valid), async (m) => {
      const same = m === valid || (target.same?.(m, valid) ?? false);
      if (same) await expectValid(credential(m));
      else await expectRefused(credential(m));
    }), { numRuns: RUNS });
  });

  test('random Cookie and Authorization headers, any method: refused, never 500', async () => {
    const cookieName = fc.oneof(fc.constantFrom('sid', 'ep', '__Host-sid', '__Host-ep', 'connect.sid'), text(10));
    const cookieHeader = fc.array(fc.tuple(cookieName, fc.oneof(text(80), mutated(valid))), { maxLength: 4 })
      .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('; '));
    const authHeader = fc.oneof(text(), text().map((s) => `Bearer ${s}`), fc.constantFrom('Bearer', 'Bearer ', 'bearer x y', 'Basic Zm9vOmJhcg=='));
    await fc.assert(fc.asyncProperty(
      fc.record({ cookie: cookieHeader, auth: authHeader, method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'), origin: fc.option(text(40)) }, { requiredKeys: ['method'] }),
      async ({ cookie, auth: authorization, method, origin }) => {
        const headers: Record<string, string> = {};
        if (cookie) headers.Cookie = cookie;
        if (authorization !== undefined) headers.Authorization = authorization;
        if (origin) headers.Origin = origin;
        // Inputs that carry the valid credential (or an equivalent spelling) may legitimately pass: skip them.
        const equivalent = (v: string) => v === valid || (target.same?.(v, valid) ?? false);
        if (cookie?.split(';').some((p) => equivalent(p.trim().slice(p.trim().indexOf('=') + 1)))) return;
        if (headers.Authorization !== undefined && equivalent(headers.Authorization.replace(/^bearer\s+/i, '').trim())) return;
        await expectRefused(headers, method, method === 'GET' ? '/me' : '/thing');
      },
    ), { numRuns: RUNS });
  });

  test('the valid credential with random unrelated cookies and headers still passes (or 403 cross-site)', async () => {
    const otherCookie = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), text(40).map((s) => s.replace(/[;,]/g, '')))
      .filter(([k]) => !['sid', 'ep'].includes(k));
    await fc.assert(fc.asyncProperty(
      fc.array(otherCookie, { maxLength: 3 }), fc.array(otherCookie, { maxLength: 3 }),
      fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), text(60), { maxKeys: 4 }),
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
      fc.option(fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none')),
      async (before, after, extra, method, site) => {
        const headers: Record<string, string> = { ...extra };
        const own = credential(valid);
        if ('Cookie' in own) headers.Cookie = [...before.map(([k, v]) => `${k}=${v}`), own.Cookie, ...after.map(([k, v]) => `${k}=${v}`)].join('; ');
        else {
          headers.Authorization = own.Authorization as string;
          if (before.length > 0) headers.Cookie = before.map(([k, v]) => `${k}=${v}`).join('; ');
        }
        if (site) headers['Sec-Fetch-Site'] = site;
        const res = await send(server.url, method, method === 'GET' ? '/me' : '/thing', headers);
        const crossSite = 'Cookie' in own && method !== 'GET' && (site === 'cross-site' || site === 'same-site');
        if (crossSite) {
          expect(res.status).toBe(403);
          expect((res.body as { code?: string }).code).toBe('ERR_CSRF');
        } else {
          expect(res.status).toBe(200);
          expect((res.body as { id?: string }).id).toBe('fuzzer');
        }
      },
    ), { numRuns: RUNS });
  });
});
