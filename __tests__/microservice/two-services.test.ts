/**
 * The two-service demo in-process on loopback ephemeral ports: log in at the auth service, call the
 * API service with the token (it knows only the JWKS URL), rotate the key at the auth service, log in
 * again and see the API accept the new-kid token without a restart.
 */
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { createAuthService, type AuthService } from '../../example-app/services/auth-service';
import { createApiService } from '../../example-app/services/api-service';
import { listen, type Listening } from './support';
import type { PrincipalMiddleware } from '../../lib';

const ISSUER = 'express-principal-demo-auth';
const AUDIENCE = 'orders-api';
let authService: AuthService;
let apiAuth: PrincipalMiddleware;
let auth: Listening;
let api: Listening;
let jwksRequests = 0;

beforeAll(async () => {
  authService = createAuthService({ issuer: ISSUER, audience: AUDIENCE });
  // Count JWKS requests reaching the auth service (the API's fetches).
  const counting = (req: import('http').IncomingMessage, res: import('http').ServerResponse) => {
    if (req.url === '/.well-known/jwks.json') jwksRequests += 1;
    authService.app(req as never, res as never);
  };
  auth = await listen(counting);
  const service = createApiService({ jwksUri: `${auth.url}/.well-known/jwks.json`, issuer: ISSUER, audience: AUDIENCE });
  apiAuth = service.auth;
  api = await listen(service.app);
});

afterAll(async () => {
  await api?.close();
  await auth?.close();
  await apiAuth?.close();
  await authService?.close();
});

const loginAs = async (username: string, password = `${username}-pass`) =>
  (await request(auth.url).post('/login').send({ username, password }).expect(200)).body as { token: string; kid: string };
const kidOf = (token: string) => jwt.decode(token, { complete: true })?.header.kid;

test('log in at auth, call the API, rotate, log in again: the API follows the new kid without a restart', async () => {
  const jwks = await request(auth.url).get('/.well-known/jwks.json').expect(200);
  expect(jwks.headers['cache-control']).toMatch(/max-age/);
  const published = JSON.parse(jwks.text).keys as { kid: string; alg: string; d?: string }[];
  expect(published).toHaveLength(1);
  expect(published[0]?.alg).toBe('ES256');
  expect(published[0]).not.toHaveProperty('d');
  jwksRequests = 0;

  const bob = await loginAs('bob');
  expect(kidOf(bob.token)).toBe(published[0]?.kid);
  const orders = await request(api.url).get('/orders').set('Authorization', `Bearer ${bob.token}`).expect(200);
  expect(orders.body.orders.map((o: { id: string }) => o.id)).toEqual(['o-2', 'o-3']);
  await request(api.url).get('/admin/orders').set('Authorization', `Bearer ${bob.token}`).expect(403);
  expect(jwksRequests).toBe(1);

  // Guards on the API, from the token's claims alone.
  const carol = await loginAs('carol');
  const noScope = await request(api.url).get('/orders').set('Authorization', `Bearer ${carol.token}`).expect(403);
  expect(noScope.body.code).toBe('ERR_INSUFFICIENT_SCOPE');
  await request(api.url).get('/orders').expect(401);
  await request(auth.url).post('/login').send({ username: 'bob', password: 'wrong' }).expect(401);

  // Rotation is an admin action at the auth service.
  const alice = await loginAs('alice');
  await request(auth.url).post('/rotate').set('Authorization', `Bearer ${bob.token}`).expect(403);
  const rotated = await request(auth.url).post('/rotate').set('Authorization', `Bearer ${alice.token}`).expect(200);
  const newKid = rotated.body.kid as string;
  expect(newKid).not.toBe(published[0]?.kid);
  const after = JSON.parse((await request(auth.url).get('/.well-known/jwks.json').expect(200)).text).keys as { kid: string }[];
  expect(after.map((k) => k.kid)).toEqual([newKid, published[0]?.kid]);

  const bob2 = await loginAs('bob');
  expect(kidOf(bob2.token)).toBe(newKid);
  const before = jwksRequests;
  const orders2 = await request(api.url).get('/orders').set('Authorization', `Bearer ${bob2.token}`).expect(200);
  expect(orders2.body.orders).toHaveLength(2);
  expect(jwksRequests).toBe(before + 1); // one refetch for the unknown kid
  // Tokens signed before the rotation keep working until they expire.
  await request(api.url).get('/orders').set('Authorization', `Bearer ${bob.token}`).expect(200);
  const admin = await request(api.url).get('/admin/orders').set('Authorization', `Bearer ${(await loginAs('alice')).token}`).expect(200);
  expect(admin.body.orders).toHaveLength(3);
  expect(jwksRequests).toBe(before + 1);
  // The API issues nothing.
  await request(api.url).post('/login').send({ username: 'bob', password: 'bob-pass' }).expect(404);
});
