/**
 * A login flood cannot grow one subject's index without bound: a store holds at most MAX_SESSIONS_PER_SUBJECT live
 * sessions per subject, and the login past it ends the oldest (memory store: the bound is the repository's, whatever
 * the backend).
 */
import express from 'express';
import request from 'supertest';
import { randomBytes } from 'node:crypto';
import { memoryStore, principal, statefulJwt } from '../../lib';
import { MAX_SESSIONS_PER_SUBJECT } from '../../lib/state/session-repository';

jest.setTimeout(120_000);
const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';

test(`a subject at ${MAX_SESSIONS_PER_SUBJECT} live sessions: the next login ends the oldest, the index stays at the bound`, async () => {
  const store = memoryStore();
  const auth = principal({ strategy: statefulJwt({ secret, store }) });
  const now = Date.now();
  // Sessions as logins write them (a record and an index member each), the oldest first.
  const sids: string[] = [];
  for (let i = 0; i < MAX_SESSIONS_PER_SUBJECT; i += 1) {
    const sid = randomBytes(16).toString('base64url');
    sids.push(sid);
    const at = now - MAX_SESSIONS_PER_SUBJECT + i;
    await store.set(`s:${sid}`, JSON.stringify({ id: 'alice', roles: [], scopes: [], claims: {}, issuedAt: at, authAt: at, loadedAt: at, absExp: now + 3_600_000, lastSeen: now, idleMs: 3_600_000 }), 3_600_000);
    await store.indexAdd('alice', sid, 3_600_000);
  }
  const app = express();
  app.use(auth);
  app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'alice' })); });
  const res = await request(app).post('/login');
  expect(res.status).toBe(200);
  const members = await store.indexMembers('alice');
  expect(members.length).toBe(MAX_SESSIONS_PER_SUBJECT);
  expect(members).not.toContain(sids[0]);
  expect(await store.get(`s:${sids[0] as string}`)).toBeNull();
  expect(await store.get(`s:${sids[1] as string}`)).not.toBeNull();
  expect(members).toContain((res.body as { sessionId: string }).sessionId);
  await auth.close();
});
