/**
 * Issue 14: login / logout / refresh routes wrapped in `handle()` answer a store outage as 503 problem+json with
 * Retry-After on Express 4 and on Express 5, over real HTTP, and the app's process sees no unhandled rejection (on
 * Express 4 an async route's rejection is not caught by Express: without `handle()` it ends the process).
 */
import request from 'supertest';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { eventually } from '../adapters/contract';
import { EXPRESS_VERSIONS, forkApp, type AppChild } from './child';

jest.setTimeout(90_000);

interface Ports { stateful: number; refresh: number }

/** Express 4 never answers a request whose async handler rejected unhandled: a deadline turns that hang into a failure. */
async function expectOutage(pending: request.Test): Promise<void> {
  const res = await pending.timeout({ deadline: 10_000 });
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status: 503, type: 'application/problem+json; charset=utf-8' });
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(JSON.parse(res.text)).toMatchObject({ status: 503, code: 'ERR_STORE_UNAVAILABLE' });
}

describe.each(EXPRESS_VERSIONS)('%s, Redis stopped under the app', (_label, expressModule, major) => {
  let server: TestRedisServer;
  let app: AppChild;
  let ports: Ports;

  beforeAll(async () => {
    server = await startRedisServer();
    app = forkApp({ EP_EXPRESS: expressModule, EP_APP: 'store', REDIS_URL: server.url });
    ports = await app.message<Ports>('ports');
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await server?.destroy();
  });

  it('runs on that Express', async () => {
    expect(await app.expressMajor()).toBe(major);
  });

  it('answers login, logout and refresh with 503 problem+json and Retry-After, and the process stays alive', async () => {
    const stateful = request(`http://127.0.0.1:${ports.stateful}`);
    const refreshing = request(`http://127.0.0.1:${ports.refresh}`);
    const session = await stateful.post('/login').send({ id: 'ada' }).expect(200);
    const token = (session.body as { token: string }).token;
    const issued = await refreshing.post('/login').send({ id: 'ada' }).expect(200);
    const refreshToken = (issued.body as { refreshToken: string }).refreshToken;
    expect(typeof refreshToken).toBe('string');

    await server.stop();

    await expectOutage(stateful.post('/login').send({ id: 'grace' }));
    await expectOutage(stateful.post('/logout').set('Authorization', `Bearer ${token}`));
    await expectOutage(refreshing.post('/refresh').send({ refreshToken }));
    await expectOutage(refreshing.post('/login').send({ id: 'grace' }));

    expect(await app.stats()).toEqual({ unhandledRejections: 0, uncaughtExceptions: 0 });
    expect(app.process.exitCode).toBeNull();
    // Still serving after the outage: Redis back, the same process logs in once its client has reconnected.
    await server.start();
    await eventually(async () => (await stateful.post('/login').send({ id: 'grace' })).status === 200, 'login after Redis is back', 20_000);
  });

  it("hands an error that is not an AuthError to the app's error handler", async () => {
    const res = await request(`http://127.0.0.1:${ports.stateful}`).post('/app-failure').timeout({ deadline: 10_000 });
    expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 500, body: { handledBy: 'app', message: 'the app failed' } });
    expect(await app.stats()).toEqual({ unhandledRejections: 0, uncaughtExceptions: 0 });
  });

  it('counts an unhandled rejection when there is one (the check above can fail)', async () => {
    app.process.send('selftest');
    const deadline = Date.now() + 10_000;
    let seen = 0;
    while (seen === 0 && Date.now() < deadline) seen = (await app.stats()).unhandledRejections;
    expect(seen).toBe(1);
  });
});
