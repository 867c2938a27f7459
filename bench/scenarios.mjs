// Benchmark scenario registry.
//
// Each scenario: { name, kind: 'baseline' | 'peer' | 'ours', quick: boolean, label, setup(app, ctx) }.
// setup() runs inside the server process (bench/server.mjs), installs its middleware and routes on a fresh
// Express 5 app and returns how the load generator gets its credential:
//   { headers }            – fixed request headers (e.g. a Bearer token signed here), or
//   { login: '/login' }    – the load generator POSTs there once and reuses the credential it gets back
//                            (`{ token }` in the JSON body → Authorization: Bearer, else Set-Cookie → Cookie).
// Every scenario serves GET /me; a protected route answers the principal's id, anything else is a non-2xx.

import { generateKeyPairSync } from 'node:crypto';

export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef'; // ≥ 32 bytes
export const ISSUER = 'bench-issuer';
export const AUDIENCE = 'bench-audience';
const USER = { id: 'u1', roles: ['user'] };

let pems;
/** ES256 / RS256 key pairs as PEM strings (what users usually keep in env / files). */
function keyPairs() {
  if (!pems) {
    const enc = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } };
    pems = {
      ec: generateKeyPairSync('ec', { namedCurve: 'P-256', ...enc }),
      rsa: generateKeyPairSync('rsa', { modulusLength: 2048, ...enc }),
    };
  }
  return pems;
}

async function signHs256() {
  const { default: jwt } = await import('jsonwebtoken');
  return jwt.sign({ sub: USER.id, roles: USER.roles }, SECRET, {
    algorithm: 'HS256', issuer: ISSUER, audience: AUDIENCE, expiresIn: '1h',
  });
}

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });

function sendUnauthorized(res) {
  res.status(401).json({ error: 'unauthorized' });
}

// ---------------------------------------------------------------------------------------------- baseline

const baseline = {
  name: 'baseline',
  label: 'plain Express (no auth)',
  kind: 'baseline',
  quick: true,
  async setup(app) {
    app.get('/me', (req, res) => { res.send(USER.id); });
    return { headers: {} };
  },
};

// ---------------------------------------------------------------------------------------------- reference

/**
 * What any auth middleware installed like ours pays before doing anything: one more app.use layer and a route-level
 * guard, both doing nothing. Not in the default run (bench/instructions.mjs counts it; `--only` runs it).
 */
const noopMiddleware = {
  name: 'noop-middleware',
  label: 'plain Express + do-nothing app.use and route guard',
  kind: 'reference',
  quick: false,
  async setup(app) {
    app.use((req, res, next) => next());
    app.get('/me', (req, res, next) => next(), (req, res) => { res.send(USER.id); });
    return { headers: {} };
  },
};

// ---------------------------------------------------------------------------------------------- peers

const peers = [
  {
    name: 'express-jwt-hs256',
    label: 'express-jwt HS256',
    quick: true,
    async setup(app) {
      const { expressjwt } = await import('express-jwt');
      app.use(expressjwt({ secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE }));
      app.get('/me', (req, res) => { res.send(req.auth.sub); });
      app.use((err, req, res, next) => { if (err.name === 'UnauthorizedError') sendUnauthorized(res); else next(err); });
      return bearer(await signHs256());
    },
  },
  {
    name: 'passport-jwt-hs256',
    label: 'passport-jwt HS256',
    quick: true,
    async setup(app) {
      const { default: passport } = await import('passport');
      const { Strategy: JwtStrategy, ExtractJwt } = await import('passport-jwt');
      passport.use(new JwtStrategy({
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKey: SECRET, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'],
      }, (payload, done) => done(null, { id: payload.sub, roles: payload.roles })));
      app.use(passport.initialize());
      app.get('/me', passport.authenticate('jwt', { session: false }), (req, res) => { res.send(req.user.id); });
      return bearer(await signHs256());
    },
  },
  ...[false, true].map((cache) => ({
    name: cache ? 'fast-jwt-hs256-cache' : 'fast-jwt-hs256',
    label: cache ? 'fast-jwt HS256 + cache' : 'fast-jwt HS256',
    quick: true,
    async setup(app) {
      const { createVerifier } = await import('fast-jwt');
      const verify = createVerifier({
        key: SECRET, algorithms: ['HS256'], allowedIss: ISSUER, allowedAud: AUDIENCE, cache,
      });
      app.use((req, res, next) => {
        const h = req.headers.authorization;
        if (h && h.startsWith('Bearer ')) {
          try { req.user = verify(h.slice(7)); } catch { req.user = null; }
        }
        next();
      });
      app.get('/me', (req, res) => { if (!req.user) sendUnauthorized(res); else res.send(req.user.sub); });
      return bearer(await signHs256());
    },
  })),
  ...[
    { name: 'express-session-redis', label: 'express-session + connect-redis', store: 'redis', quick: true },
    { name: 'express-session-redis-notouch', label: 'express-session + connect-redis (disableTouch)', store: 'redis', disableTouch: true, quick: false },
    { name: 'express-session-memory', label: 'express-session MemoryStore', store: 'memory', quick: true },
  ].map((s) => ({
    name: s.name,
    label: s.label,
    quick: s.quick,
    async setup(app, ctx) {
      const { default: session } = await import('express-session');
      let store;
      if (s.store === 'redis') {
        const { RedisStore } = await import('connect-redis');
        store = new RedisStore({ client: await ctx.redis(), prefix: `${ctx.prefix}sess:`, disableTouch: !!s.disableTouch });
      }
      app.use(session({
        store, secret: SECRET, resave: false, saveUninitialized: false, name: 'sid',
        cookie: { httpOnly: true, secure: false, sameSite: 'lax', maxAge: 3600_000 },
      }));
      app.post('/login', (req, res, next) => {
        req.session.regenerate((err) => {
          if (err) return next(err);
          req.session.user = USER;
          req.session.save((err2) => (err2 ? next(err2) : res.json({ ok: true })));
        });
      });
      app.get('/me', (req, res) => { if (!req.session.user) sendUnauthorized(res); else res.send(req.session.user.id); });
      return { login: '/login' };
    },
  })),
].map((s) => ({ kind: 'peer', ...s }));

// ---------------------------------------------------------------------------------------------- ours

/** Install express-principal the way its README does: middleware, POST /login, GET /me behind requireAuth(). */
function ours(name, label, quick, makeStrategy) {
  return {
    name,
    label,
    kind: 'ours',
    quick,
    async setup(app, ctx) {
      const lib = await ctx.lib();
      const auth = lib.principal({ strategy: await makeStrategy(lib, ctx) });
      ctx.onClose(() => auth.close?.());
      app.use(auth);
      app.post('/login', async (req, res, next) => {
        try {
          const issued = await req.auth.login({ id: USER.id, roles: USER.roles });
          res.json({ token: issued?.token ?? null });
        } catch (err) { next(err); }
      });
      app.get('/me', lib.requireAuth(), (req, res) => { res.send(req.principal.id); });
      return { login: '/login' };
    },
  };
}

const jwtBase = { issuer: ISSUER, audience: AUDIENCE, ttl: '1h' };
const hs = { secret: SECRET, ...jwtBase };
const es = () => ({ privateKey: keyPairs().ec.privateKey, publicKey: keyPairs().ec.publicKey, algorithms: ['ES256'], ...jwtBase });
const rs = () => ({ privateKey: keyPairs().rsa.privateKey, publicKey: keyPairs().rsa.publicKey, algorithms: ['RS256'], ...jwtBase });
// Under valgrind a round trip takes ~100× longer in wall time, past the default 1-s store deadline on a busy machine:
// bench:instructions sets a longer one (the deadline's timer costs the same instructions whatever its length).
const storeTimeout = process.env.BENCH_STORE_TIMEOUT || '1s';
const redisStoreOf = async (lib, ctx, tag) => lib.redisStore({ client: await ctx.redis(), prefix: `${ctx.prefix}${tag}:`, timeout: storeTimeout });

const ioredisStoreOf = async (lib, ctx, tag) => lib.redisStore({ client: await ctx.ioredis(), prefix: `${ctx.prefix}${tag}:`, timeout: storeTimeout });

const oursList = [
  ours('ours-stateless-hs256', 'ours stateless HS256', true, (lib) => lib.statelessJwt({ ...hs })),
  ours('ours-stateless-hs256-nocache', 'ours stateless HS256, no cache', true, (lib) => lib.statelessJwt({ ...hs, cache: false })),
  ours('ours-stateless-es256', 'ours stateless ES256', true, (lib) => lib.statelessJwt(es())),
  ours('ours-stateless-es256-nocache', 'ours stateless ES256, no cache', false, (lib) => lib.statelessJwt({ ...es(), cache: false })),
  ours('ours-stateless-rs256', 'ours stateless RS256', true, (lib) => lib.statelessJwt(rs())),
  ours('ours-stateless-rs256-nocache', 'ours stateless RS256, no cache', false, (lib) => lib.statelessJwt({ ...rs(), cache: false })),
  ours('ours-stateless-hs256-revoke-redis', 'ours stateless HS256 + revocation (Redis)', true,
    async (lib, ctx) => lib.statelessJwt({ ...hs, store: await redisStoreOf(lib, ctx, 'revoke') })),
  ours('ours-stateless-hs256-revoke-memory', 'ours stateless HS256 + revocation (memory)', false,
    (lib) => lib.statelessJwt({ ...hs, store: lib.memoryStore() })),
  ours('ours-stateful-jwt-redis', 'ours stateful JWT (Redis)', true,
    async (lib, ctx) => lib.statefulJwt({ secret: SECRET, store: await redisStoreOf(lib, ctx, 'stateful') })),
  ours('ours-stateful-jwt-redis-cached', 'ours stateful JWT (Redis) + record cache', true,
    async (lib, ctx) => lib.statefulJwt({ secret: SECRET, store: await redisStoreOf(lib, ctx, 'stateful-cached'), recordCache: true })),
  ours('ours-stateful-jwt-postgres', 'ours stateful JWT (PostgreSQL)', true,
    async (lib, ctx) => lib.statefulJwt({ secret: SECRET, store: await ctx.postgresStore(lib, 'stateful', storeTimeout) })),
  ours('ours-stateful-jwt-postgres-cached', 'ours stateful JWT (PostgreSQL) + record cache', false,
    async (lib, ctx) => lib.statefulJwt({ secret: SECRET, store: await ctx.postgresStore(lib, 'stateful-cached', storeTimeout), recordCache: true })),
  ours('ours-stateful-jwt-memory', 'ours stateful JWT (memory)', false,
    (lib) => lib.statefulJwt({ secret: SECRET, store: lib.memoryStore() })),
  ours('ours-session-redis', 'ours session cookie (Redis)', true,
    async (lib, ctx) => lib.sessionCookie({ secret: SECRET, store: await redisStoreOf(lib, ctx, 'session'), secure: false })),
  ours('ours-session-redis-cached', 'ours session cookie (Redis) + record cache', true,
    async (lib, ctx) => lib.sessionCookie({ secret: SECRET, store: await redisStoreOf(lib, ctx, 'session-cached'), secure: false, recordCache: true })),
  ours('ours-session-postgres', 'ours session cookie (PostgreSQL)', true,
    async (lib, ctx) => lib.sessionCookie({ secret: SECRET, store: await ctx.postgresStore(lib, 'session', storeTimeout), secure: false })),
  ours('ours-session-postgres-cached', 'ours session cookie (PostgreSQL) + record cache', false,
    async (lib, ctx) => lib.sessionCookie({ secret: SECRET, store: await ctx.postgresStore(lib, 'session-cached', storeTimeout), secure: false, recordCache: true })),
  ours('ours-stateful-jwt-ioredis', 'ours stateful JWT (Redis, ioredis client)', false,
    async (lib, ctx) => lib.statefulJwt({ secret: SECRET, store: await ioredisStoreOf(lib, ctx, 'stateful-io') })),
  ours('ours-session-ioredis', 'ours session cookie (Redis, ioredis client)', false,
    async (lib, ctx) => lib.sessionCookie({ secret: SECRET, store: await ioredisStoreOf(lib, ctx, 'session-io'), secure: false })),
  ours('ours-session-memory', 'ours session cookie (memory)', false,
    (lib) => lib.sessionCookie({ secret: SECRET, store: lib.memoryStore(), secure: false })),
  ours('ours-cookie-store', 'ours cookie-only session (encrypted)', true,
    (lib) => lib.sessionCookie({ store: lib.cookieStore({ secret: SECRET }), secure: false })),
];

export const baselineScenario = baseline;
export const scenarios = [...peers, ...oursList];
export const references = [noopMiddleware];
export const all = [baseline, ...references, ...scenarios];
export function byName(name) {
  return all.find((s) => s.name === name);
}
