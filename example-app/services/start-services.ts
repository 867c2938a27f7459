/**
 * Starts the demo auth service and API service side by side:
 *   npm run example:services          (AUTH_PORT=4000, API_PORT=4001, HOST=127.0.0.1 by default)
 * Then:
 *   TOKEN=$(curl -s -XPOST localhost:4000/login -H 'content-type: application/json' \
 *           -d '{"username":"bob","password":"bob-pass"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
 *   curl -s localhost:4001/orders -H "authorization: Bearer $TOKEN"
 */
import type { Server } from 'node:http';
import { createAuthService } from './auth-service';
import { createApiService } from './api-service';

const HOST = process.env.HOST ?? '127.0.0.1';
const AUTH_PORT = Number(process.env.AUTH_PORT ?? 4000);
const API_PORT = Number(process.env.API_PORT ?? 4001);
const ISSUER = process.env.ISSUER ?? 'express-principal-demo-auth';
const AUDIENCE = process.env.AUDIENCE ?? 'orders-api';
const JWKS_URI = process.env.JWKS_URI ?? `http://${HOST === '0.0.0.0' ? '127.0.0.1' : HOST}:${AUTH_PORT}/.well-known/jwks.json`;

function listen(app: import('express').Express, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, HOST, () => resolve(server));
    server.once('error', reject);
  });
}

async function main(): Promise<void> {
  const authService = createAuthService({ issuer: ISSUER, audience: AUDIENCE });
  const authServer = await listen(authService.app, AUTH_PORT);
  const api = createApiService({ jwksUri: JWKS_URI, issuer: ISSUER, audience: AUDIENCE, jwks: { allowHttp: process.env.JWKS_ALLOW_HTTP === '1' } });
  const apiServer = await listen(api.app, API_PORT);
  console.log(`auth service  http://${HOST}:${AUTH_PORT}  (POST /login, GET /.well-known/jwks.json, POST /rotate)  kid ${authService.currentKid}`);
  console.log(`api service   http://${HOST}:${API_PORT}  (GET /orders [orders:read], GET /admin/orders [admin])  keys from ${JWKS_URI}`);
  console.log('demo users: alice/alice-pass (admin), bob/bob-pass, carol/carol-pass (no scopes)');
  const stop = () => {
    apiServer.close();
    authServer.close();
    void Promise.all([api.auth.close(), authService.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
