/**
 * The lifecycle every strategy × adapter pair goes through, over HTTP (helpers/apps.ts routes):
 * login → /me (same Principal shape) → guards → logout → replay the old credential.
 */
import request from 'supertest';
import type express from 'express';
import type { PrincipalMiddleware } from '../../lib';
import { credential, expectPrincipalShape, login, type LoggedIn } from '../helpers/apps';

export type Replay = 'refused' | 'still-valid';

const alice = { id: 'alice', roles: ['admin', 'user'], scopes: ['orders:read'], claims: { team: 'blue' } };

export async function lifecycle(app: express.Express, strategyName: string, replay: Replay): Promise<LoggedIn> {
  const session = await login(app, alice);
  expect(session.sessionId).toEqual(expect.any(String));
  const cred = credential(session);

  const me = await request(app).get('/me').set(cred).expect(200);
  expectPrincipalShape(me.body, { id: 'alice', roles: ['admin', 'user'], scopes: ['orders:read'], strategy: strategyName });
  expect(me.body.sessionId).toBe(session.sessionId);
  expect(me.body.claims).toEqual({ team: 'blue' });

  await request(app).get('/admin').set(cred).expect(200);
  await request(app).get('/scoped').set(cred).expect(200);
  await request(app).get('/owner/alice').set(cred).expect(200);
  await request(app).get('/owner/bob').set(cred).expect(403);

  const out = await request(app).post('/logout').set(cred).expect(204);
  if (session.cookie !== null) {
    const cleared = ([] as string[]).concat(out.headers['set-cookie'] ?? []);
    const name = session.cookie.split('=')[0] as string;
    expect(cleared.some((c) => c.startsWith(`${name}=;`) && /Expires=Thu, 01 Jan 1970/i.test(c))).toBe(true);
  }

  const again = await request(app).get('/me').set(cred);
  if (replay === 'refused') {
    expect(again.status).toBe(401);
    expect(['ERR_CREDENTIAL_REVOKED', 'ERR_INVALID_CREDENTIAL']).toContain(again.body.code);
  } else {
    // The stated trade-off: without server state, a logged-out credential lives until it expires.
    expect(again.status).toBe(200);
    expect(again.body.id).toBe('alice');
  }
  return session;
}

/** revokeAll(subject) ends every session of that subject and no one else's. */
export async function revokeAllEndsOnlyThatSubject(app: express.Express, auth: PrincipalMiddleware): Promise<void> {
  const a1 = credential(await login(app, { id: 'carol', roles: ['user'] }));
  const a2 = credential(await login(app, { id: 'carol', roles: ['user'] }));
  const b = credential(await login(app, { id: 'dave', roles: ['user'] }));
  for (const c of [a1, a2, b]) await request(app).get('/me').set(c).expect(200);
  await auth.revokeAll('carol');
  for (const c of [a1, a2]) {
    const res = await request(app).get('/me').set(c);
    expect(res.status).toBe(401);
    expect(['ERR_CREDENTIAL_REVOKED', 'ERR_INVALID_CREDENTIAL']).toContain(res.body.code);
  }
  const other = await request(app).get('/me').set(b).expect(200);
  expect(other.body.id).toBe('dave');
  // A fresh login after the revocation works again.
  await request(app).get('/me').set(credential(await login(app, { id: 'carol', roles: ['user'] }))).expect(200);
}

/** update(subject, { roles }) is seen on the very next request (stateful strategies). */
export async function updateChangesRoles(app: express.Express, auth: PrincipalMiddleware): Promise<void> {
  const c = credential(await login(app, { id: 'erin', roles: ['user'] }));
  const other = credential(await login(app, { id: 'frank', roles: ['user'] }));
  await request(app).get('/admin').set(c).expect(403);
  const changed = await auth.update('erin', { roles: ['admin'] });
  expect(changed).toBe(1);
  const res = await request(app).get('/me').set(c).expect(200);
  expect(res.body.roles).toEqual(['admin']);
  await request(app).get('/admin').set(c).expect(200);
  await request(app).get('/admin').set(other).expect(403);
}
