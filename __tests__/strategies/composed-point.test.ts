/**
 * A point of the grid no preset covers, composed from the parts the presets are made of: an opaque random token
 * (express-session's signed-id envelope, no claims) in an `Authorization: Bearer` header, backed by the store's
 * session-record repository under a layout of its own. It gets everything the repository gives the presets —
 * idle slide, logout, revokeAll and update across strategies on one store — without a line of strategy code.
 */
import express from 'express';
import request from 'supertest';
import { memoryStore, principal, redisStore, requireAuth, statefulJwt, type StateStore, type Strategy, type StrategyName } from '../../lib';
import { storedSession, type SessionCarrier } from '../../lib/strategies/stored-session';
import { asStrategy } from '../../lib/strategy';
import { SignedSessionIdEnvelope } from '../../lib/envelopes/signed-session-id';
import { bearerValue } from '../../lib/carriers/header';
import { resolveTimeouts } from '../../lib/state/session-record';
import { RECORD_LAYOUT, type RecordLayout } from '../../lib/state/record-layout';
import { InvalidCredentialError } from '../../lib/errors';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';

const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';

/** The records' encoding is the stateful one; the prefix is this point's own. */
const OPAQUE_LAYOUT: RecordLayout = { ...RECORD_LAYOUT, strategy: 'opaque-token' as StrategyName, prefix: 'ot:' };

const bearerCarrier: SessionCarrier = {
  kinds: ['header'],
  find(req) {
    const value = bearerValue(req);
    return value === null ? null : { carrier: 'header', value };
  },
  write: () => undefined,
  clear: (res) => { res.setHeader('Cache-Control', 'no-store'); },
};

function opaqueToken(store: StateStore): Strategy {
  const envelope = new SignedSessionIdEnvelope([secret], (sid) => OPAQUE_LAYOUT.prefix + sid);
  return asStrategy(storedSession({
    name: 'opaque-token' as StrategyName,
    carrier: bearerCarrier,
    envelope: {
      open(value) {
        const found = envelope.open(`s:${value}`);
        if (found === null) throw new InvalidCredentialError();
        return { sid: found.sid, subject: null, key: found.key };
      },
      seal: (sid) => envelope.sign(sid).slice(2),
    },
    store, layout: OPAQUE_LAYOUT, timeouts: resolveTimeouts({ idleTimeout: '10m', absoluteTimeout: '1h' }), sidBytes: 32,
  }));
}

/** Both credentials travel in the Authorization header, so each gets its own principal() on the shared store. */
function app(store: StateStore, strategy: Strategy) {
  const auth = principal({ strategy });
  const a = express();
  a.use(auth);
  a.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'olga', roles: ['user'] })); });
  a.post('/logout', async (req, res) => { await req.auth.logout(); res.sendStatus(204); });
  a.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id, roles: req.principal?.roles, strategy: req.principal?.strategy }));
  return { auth, app: a };
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe.each(['memory', 'redis'] as const)('an opaque bearer token on the session-record repository (%s)', (kind) => {
  let store: StateStore;
  let client: TestRedisClient | undefined;
  let prefix = '';

  beforeAll(async () => {
    if (kind === 'memory') { store = memoryStore(); return; }
    client = await connectRedis();
    prefix = uniquePrefix('composed');
    store = redisStore({ client, prefix });
  });
  afterAll(async () => {
    await store.close();
    if (client) {
      await cleanupPrefix(client, prefix);
      client.destroy();
    }
  });

  it('logs in with an opaque token (no claims in it), authenticates it, and logout ends it', async () => {
    const { auth, app: a } = app(store, opaqueToken(store));
    try {
      const issued = (await request(a).post('/login').expect(200)).body as { token: string; sessionId: string };
      expect(issued.token.split('.')).toHaveLength(2); // `<sid>.<mac>`: no header, no payload
      expect(issued.token).not.toContain('olga');
      expect((await request(a).get('/me').set(bearer(issued.token)).expect(200)).body).toEqual({ id: 'olga', roles: ['user'], strategy: 'opaque-token' });
      // A token whose MAC does not match, or a JWT of the other strategy's shape, is not this point's.
      const forged = `${issued.token.split('.')[0]}.AAAA`;
      expect((await request(a).get('/me').set(bearer(forged)).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');
      await request(a).post('/logout').set(bearer(issued.token)).expect(204);
      expect((await request(a).get('/me').set(bearer(issued.token)).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');
      if (client) expect(await client.exists(`${prefix}ot:${issued.sessionId}`)).toBe(0);
    } finally {
      await auth.close();
    }
  });

  it('revokeAll and update of either reach its sessions and the statefulJwt ones on the same store', async () => {
    const opaque = app(store, opaqueToken(store));
    const jwt = app(store, statefulJwt({ secret, store }));
    try {
      const opaqueToken1 = (await request(opaque.app).post('/login').expect(200)).body.token as string;
      const jwtToken = (await request(jwt.app).post('/login').expect(200)).body.token as string;
      const both = [[opaque.app, opaqueToken1], [jwt.app, jwtToken]] as const;
      // The statefulJwt instance knows nothing of opaque tokens, yet its update changes them: one repository.
      expect(await jwt.auth.update('olga', { roles: ['admin'] })).toBe(2);
      for (const [a, token] of both) expect((await request(a).get('/me').set(bearer(token)).expect(200)).body.roles).toEqual(['admin']);
      await opaque.auth.revokeAll('olga');
      for (const [a, token] of both) expect((await request(a).get('/me').set(bearer(token)).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');
      expect(await jwt.auth.update('olga', { roles: ['user'] })).toBe(0);
      if (client) expect(await keysWithPrefix(client, `${prefix}ot:`)).toEqual([]);
    } finally {
      await opaque.auth.close();
      await jwt.auth.close();
    }
  });
});
