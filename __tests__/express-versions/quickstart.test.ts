/**
 * Issue 14: the README's quickstart (the first ```ts block under "## Quickstart") runs as written over real HTTP on
 * Express 4 and on Express 5, with `checkPassword` and JWT_SECRET / PORT supplied by the test: logins, guards, a wrong
 * password (a rejected async route) answering 401 problem+json, logout, and no unhandled rejection in its process.
 */
import request from 'supertest';
import { freePort } from '../helpers/redis-server';
import { eventually } from '../adapters/contract';
import { EXPRESS_VERSIONS, forkApp, type AppChild } from './child';

jest.setTimeout(90_000);

const PROBLEM = 'application/problem+json; charset=utf-8';

/** A listening quickstart answers any request; before `app.listen` the connection is refused. */
async function answers(base: string): Promise<boolean> {
  try {
    await request(base).get('/admin').timeout({ deadline: 2_000 });
    return true;
  } catch {
    return false;
  }
}

describe.each(EXPRESS_VERSIONS)('README quickstart on %s', (_label, expressModule, major) => {
  let app: AppChild;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = forkApp({ EP_EXPRESS: expressModule, EP_APP: 'quickstart', PORT: String(port), JWT_SECRET: 'quickstart-secret-0123456789abcdef0123' });
    // Rejects only if the process reports a failure or exits; its exit in afterAll is expected.
    const failed = app.message<never>('never');
    failed.catch(() => undefined);
    await Promise.race([eventually(() => answers(base), 'the quickstart to listen', 60_000), failed]);
  }, 70_000);

  afterAll(async () => {
    await app?.stop();
  });

  it('runs on that Express', async () => {
    expect(await app.expressMajor()).toBe(major);
  });

  it('logs in, guards /admin, answers a wrong password as 401 problem+json, logs out, and never leaves a rejection unhandled', async () => {
    const login = (name: string, password: string) => request(base).post('/login').send({ name, password }).timeout({ deadline: 10_000 });
    const ada = await login('ada', 'right').expect(200);
    const adaToken = (ada.body as { token: string }).token;
    const admin = await request(base).get('/admin').set('Authorization', `Bearer ${adaToken}`).expect(200);
    expect((admin.body as { id: string }).id).toBe('ada');

    const bob = await login('bob', 'right').expect(200);
    const forbidden = await request(base).get('/admin').set('Authorization', `Bearer ${(bob.body as { token: string }).token}`);
    expect({ status: forbidden.status, type: forbidden.headers['content-type'] }).toEqual({ status: 403, type: PROBLEM });
    const anonymous = await request(base).get('/admin');
    expect({ status: anonymous.status, type: anonymous.headers['content-type'] }).toEqual({ status: 401, type: PROBLEM });

    const wrong = await login('ada', 'wrong');
    expect({ status: wrong.status, type: wrong.headers['content-type'] }).toEqual({ status: 401, type: PROBLEM });
    expect(JSON.parse(wrong.text)).toMatchObject({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });

    await request(base).post('/logout').set('Authorization', `Bearer ${adaToken}`).timeout({ deadline: 10_000 }).expect(204);
    expect(await app.stats()).toEqual({ unhandledRejections: 0, uncaughtExceptions: 0 });
    expect(app.process.exitCode).toBeNull();
  });
});
