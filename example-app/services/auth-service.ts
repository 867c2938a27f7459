/**
 * Demo auth service: the only holder of private keys. Issues ES256 access tokens with a `kid`,
 * publishes the public keys at /.well-known/jwks.json, and can rotate its signing key (POST /rotate, admins).
 * Run with the API service: `npm run example:services`.
 */
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { principal, requireRole, statelessJwt, type PrincipalMiddleware } from '../../lib';
import type { JwtKey } from '../../lib/envelopes/jwt-keys';

export interface AuthServiceOptions {
  /** `iss` of every token; verifiers must expect the same. */
  issuer: string;
  /** `aud` of every token (the API service's name). */
  audience: string;
  /** Access token lifetime. @default '15m' */
  ttl?: string;
}

interface DemoUser { password: string; roles: string[]; scopes: string[] }

/** Demo users only: a real service checks a password hash (argon2/scrypt) from its database. */
const USERS: Record<string, DemoUser> = {
  alice: { password: 'alice-pass', roles: ['admin'], scopes: ['orders:read', 'orders:write'] },
  bob: { password: 'bob-pass', roles: ['user'], scopes: ['orders:read'] },
  carol: { password: 'carol-pass', roles: ['user'], scopes: [] },
};

function newKey(): JwtKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid: `k-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`, algorithm: 'ES256', privateKey, publicKey };
}

function samePassword(given: unknown, expected: string): boolean {
  const a = Buffer.from(typeof given === 'string' ? given : '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface AuthService {
  readonly app: express.Express;
  /** The kid new tokens are signed with. */
  readonly currentKid: string;
  /** Adds a new key in front (it signs from now on); the previous one keeps verifying. Returns the new kid. */
  rotate(): string;
  close(): Promise<void>;
}

export function createAuthService(options: AuthServiceOptions): AuthService {
  /** Newest first: the first signs, the others only verify (and stay in the JWKS for tokens still alive). */
  let keys: JwtKey[] = [newKey()];
  let auth: PrincipalMiddleware = build();
  const retired: PrincipalMiddleware[] = [];

  function build(): PrincipalMiddleware {
    return principal({ strategy: statelessJwt({ keys, issuer: options.issuer, audience: options.audience, ttl: options.ttl ?? '15m' }) });
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '2kb' }));
  const current: RequestHandler = (req, res, next) => auth(req, res, next);
  app.use(current);

  app.get('/.well-known/jwks.json', (req, res, next) => auth.jwks()(req, res, next));

  app.post('/login', async (req, res, next) => {
    try {
      const username = typeof req.body?.username === 'string' ? req.body.username : '';
      const user = Object.hasOwn(USERS, username) ? USERS[username] : undefined;
      if (!user || !samePassword(req.body?.password, user.password)) {
        res.status(401).type('application/problem+json').json({ type: 'about:blank', title: 'Wrong username or password', status: 401 });
        return;
      }
      const issued = await req.auth.login({ id: username, roles: user.roles, scopes: user.scopes });
      res.json({ token: issued.token, expiresAt: issued.expiresAt, kid: keys[0]?.kid });
    } catch (err) {
      next(err);
    }
  });

  /** Demo only: a real rotation follows the runbook (publish first, sign later). Admins only. */
  app.post('/rotate', requireRole('admin'), (_req, res) => {
    res.json({ kid: service.rotate() });
  });

  const service: AuthService = {
    app,
    get currentKid() { return keys[0]?.kid ?? ''; },
    rotate() {
      // Keep the previous key for verification: tokens it signed stay valid until they expire.
      keys = [newKey(), ...keys.slice(0, 2).map(({ kid, algorithm, publicKey }): JwtKey => ({ kid, algorithm, publicKey }))];
      retired.push(auth);
      auth = build();
      return keys[0]?.kid ?? '';
    },
    async close() {
      await Promise.all([auth, ...retired].map((m) => m.close()));
    },
  };
  return service;
}
