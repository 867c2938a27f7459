/**
 * Issue 15, the example app's devices API outside the browser (in-process, plain fetch): on Redis for every strategy
 * that keeps sessions, ending another device refuses its next request while the caller stays in; AUTH_REFRESH=1
 * renews without handing the page a token, and refuses a strategy it cannot serve.
 */
import { connectRedis, uniquePrefix, cleanupPrefix, redisUrl, type TestRedisClient } from '../helpers/redis';
import { eventually } from '../adapters/contract';
import { createExampleApp } from '../../example-app/app';
import { startExample, type RunningExample } from './support';

jest.setTimeout(60_000);

const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

let redis: TestRedisClient;
const prefixes: string[] = [];
beforeAll(async () => { redis = await connectRedis(); });
afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(redis, p);
  await redis.close();
});

/** A client with its own cookie jar and user agent: one device. */
function client(base: string, userAgent: string) {
  const jar = new Map<string, string>();
  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; setCookies: string[] }> {
    const headers: Record<string, string> = { 'User-Agent': userAgent, Accept: 'application/json' };
    if (jar.size > 0) headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair = ''] = c.split(';');
      const at = pair.indexOf('=');
      const value = pair.slice(at + 1);
      if (value === '' || /max-age=0/i.test(c)) jar.delete(pair.slice(0, at));
      else jar.set(pair.slice(0, at), value);
    }
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text), setCookies };
  }
  return { call, jar };
}

interface Listed { devices: { handle: string; device: string; current: boolean }[] }
function isListed(v: unknown): v is Listed {
  return typeof v === 'object' && v !== null && Array.isArray((v as Partial<Listed>).devices);
}

async function devicesOf(c: ReturnType<typeof client>): Promise<Listed['devices']> {
  const res = await c.call('GET', '/api/devices');
  expect(res.status).toBe(200);
  if (!isListed(res.body)) throw new Error(`not a device list: ${JSON.stringify(res.body)}`);
  return res.body.devices;
}

describe.each([
  { label: 'stateful-jwt', env: { AUTH_STRATEGY: 'stateful-jwt' } },
  { label: 'session-cookie', env: { AUTH_STRATEGY: 'session-cookie' } },
  { label: 'stateless-jwt with refresh tokens', env: { AUTH_STRATEGY: 'stateless-jwt', AUTH_REFRESH: '1' } },
])('devices on Redis: $label', ({ env }) => {
  let running: RunningExample;
  beforeAll(async () => {
    const prefix = uniquePrefix('example-devices');
    prefixes.push(prefix);
    running = await startExample({ ...env, AUTH_STORAGE: 'redis', REDIS_URL: redisUrl(), AUTH_PREFIX: prefix });
  });
  afterAll(async () => { await running?.close(); });

  test('A lists A and B, ends B: B is refused at its next request, A stays in', async () => {
    const a = client(running.base, CHROME_MAC);
    const b = client(running.base, FIREFOX_WIN);
    expect((await a.call('POST', '/login', { username: 'bob', password: 'bob-builder' })).status).toBe(200);
    expect((await b.call('POST', '/login', { username: 'bob', password: 'bob-builder' })).status).toBe(200);
    const listed = await devicesOf(a);
    expect(listed.map((d) => [d.device, d.current])).toEqual([['Chrome 131 on macOS', true], ['Firefox 133 on Windows', false]]);
    const other = listed.find((d) => !d.current);
    expect((await a.call('DELETE', `/api/devices/${encodeURIComponent(other?.handle ?? '')}`)).status).toBe(200);
    await eventually(async () => (await b.call('GET', '/api/me')).status === 401, "B's /api/me answering 401", 10_000);
    expect((await a.call('GET', '/api/me')).status).toBe(200);
    expect((await devicesOf(a)).map((d) => d.device)).toEqual(['Chrome 131 on macOS']);
    // Ending it again: it is gone, and nothing else is.
    expect((await a.call('DELETE', `/api/devices/${encodeURIComponent(other?.handle ?? '')}`)).status).toBe(404);
    expect((await a.call('GET', '/api/me')).status).toBe(200);
  });
});

describe('AUTH_REFRESH=1', () => {
  test('POST /auth/refresh renews in HttpOnly cookies and answers no token to the page', async () => {
    const running = await startExample({ AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory', AUTH_REFRESH: '1' });
    try {
      const a = client(running.base, CHROME_MAC);
      const login = await a.call('POST', '/login', { username: 'alice', password: 'alice-wonderland' });
      expect(login.status).toBe(200);
      expect(login.setCookies.find((c) => c.startsWith('ep_rt='))).toMatch(/HttpOnly/i);
      const before = a.jar.get('ep');
      const renewed = await a.call('POST', '/auth/refresh');
      expect(renewed.status).toBe(200);
      expect(Object.keys(renewed.body ?? {})).toEqual(['expiresAt']);
      expect(renewed.setCookies.map((c) => c.split('=')[0]).sort()).toEqual(['ep', 'ep_rt']);
      expect(a.jar.get('ep')).not.toBe(before);
      expect((await a.call('GET', '/api/me')).status).toBe(200);
      // Without a refresh cookie there is nothing to renew.
      const stranger = client(running.base, CHROME_MAC);
      expect((await stranger.call('POST', '/auth/refresh')).status).toBe(401);
    } finally {
      await running.close();
    }
  });

  test('refuses a strategy or storage that keeps no refresh tokens, and a value other than 0 / 1', async () => {
    await expect(createExampleApp({ AUTH_STRATEGY: 'session-cookie', AUTH_REFRESH: '1' })).rejects.toThrow(/AUTH_REFRESH=1 needs AUTH_STRATEGY=stateless-jwt/);
    await expect(createExampleApp({ AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'cookie', AUTH_REFRESH: '1' })).rejects.toThrow(/AUTH_REFRESH=1 needs/);
    await expect(createExampleApp({ AUTH_STRATEGY: 'stateless-jwt', AUTH_REFRESH: 'yes' })).rejects.toThrow("AUTH_REFRESH='yes' is not one of 0, 1");
  });
});
