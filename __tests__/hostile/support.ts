/**
 * Shared helpers for the hostile-input suites: a real Express app around a principal middleware,
 * hand-made JWTs (node:crypto only, so nothing "helpfully" normalises what we forge), and small utilities.
 */
import { createHmac, randomBytes, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AuthError, requireAuth, requireRole, type PrincipalMiddleware } from '../../lib';

export const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
export const SECRET2 = 'Zq7Wm3Xp1Lk9Hj5Gf2Ds8Ae4Rt6Yu0Io3Pv7Nb1Mc';
export const ISSUER = 'https://auth.test';
export const AUDIENCE = 'api';

export interface TestApp {
  app: express.Express;
  /** Every error that reached the app's own error handler (an error escaping the middleware/guards). */
  escaped: unknown[];
}

/** A real app: login/logout, protected routes for every unsafe method, an admin route, an error recorder. */
export function buildApp(auth: PrincipalMiddleware): TestApp {
  const escaped: unknown[] = [];
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req: Request, res: Response) => {
    try {
      const body = (req.body ?? {}) as { id?: string; roles?: string[] };
      const issued = await req.auth.login({ id: body.id ?? 'alice', roles: body.roles ?? ['user'] });
      res.json({ token: issued.token, sessionId: issued.sessionId, expiresAt: issued.expiresAt });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      res.status(err.status).json({ code: err.code });
    }
  });
  app.post('/logout', async (req: Request, res: Response) => {
    try {
      await req.auth.logout();
      res.sendStatus(204);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      res.status(err.status).json({ code: err.code });
    }
  });
  const me = (req: Request, res: Response) => {
    const p = req.principal;
    res.json(p && { id: p.id, roles: p.roles, sessionId: p.sessionId, strategy: p.strategy });
  };
  app.get('/me', requireAuth(), me);
  for (const method of ['post', 'put', 'patch', 'delete'] as const) app[method]('/thing', requireAuth(), me);
  app.get('/admin', requireRole('admin'), me);
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    escaped.push(err);
    res.status(500).json({ escaped: true });
  });
  return { app, escaped };
}

/* ---------------------------------------------------------------- hand-made JWTs */

export const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export type Signer = (input: string) => Buffer;

export const hs = (secret: string | Buffer, bits = 256): Signer => (input) => createHmac(`sha${bits}`, secret).update(input).digest();
export const rs = (key: KeyObject, bits = 256): Signer => (input) => cryptoSign(`sha${bits}`, Buffer.from(input), key);
export const ps = (key: KeyObject, bits = 256): Signer => (input) =>
  cryptoSign(`sha${bits}`, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 });
export const es = (key: KeyObject, bits = 256): Signer => (input) => cryptoSign(`sha${bits}`, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });

/** header and payload are objects (JSON.stringify'd) or raw JSON text (for __proto__ and non-object tests). */
export function forge(header: unknown, payload: unknown, signer: Signer | null): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signer ? signer(input).toString('base64url') : ''}`;
}

export const nowS = (): number => Math.floor(Date.now() / 1000);

export function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowS();
  return { sub: 'alice', roles: ['user'], iat, exp: iat + 600, jti: randomBytes(12).toString('base64url'), iss: ISSUER, aud: AUDIENCE, ...extra };
}

/**
 * A different base64url spelling of the same bytes: the last character's unused low bits changed.
 * Returns null when the segment has no spare bits (length a multiple of 4).
 */
export function trailingBitVariant(segment: string): string | null {
  if (segment.length % 4 === 0) return null;
  const bytes = Buffer.from(segment, 'base64url');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const head = segment.slice(0, -1);
  for (const c of alphabet) {
    if (c === segment.at(-1)) continue;
    const candidate = head + c;
    if (Buffer.from(candidate, 'base64url').equals(bytes)) return candidate;
  }
  return null;
}

export function withSignature(token: string, signature: string): string {
  return `${token.slice(0, token.lastIndexOf('.') + 1)}${signature}`;
}

/* ---------------------------------------------------------------- misc */

/** A local HTTP server that counts every request it receives (for "never fetched" checks). */
export async function countingServer(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server: Server = createServer((_req, res) => {
    count += 1;
    res.end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => count,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Polls `check` until it returns true (no fixed sleeps); throws with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The `name=value` pair of a Set-Cookie header (for replaying cookies by hand). */
export function cookiePair(setCookie: string[] | string | undefined, name: string): string | null {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  const found = list.find((c) => c.startsWith(`${name}=`));
  return found === undefined ? null : (found.split(';')[0] as string);
}

/* ---------------------------------------------------------------- a fast keep-alive client (for floods and fuzzing) */

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** The app on a real loopback port (large headers allowed, so the app, not Node, decides about size). */
export async function listen(app: express.Express): Promise<Listening> {
  const server = createServer({ maxHeaderSize: 64 * 1024 }, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
export const closeAgent = (): void => agent.destroy();

/** One request over a shared keep-alive agent; resolves with status and parsed JSON body (or text). */
export function send(url: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
