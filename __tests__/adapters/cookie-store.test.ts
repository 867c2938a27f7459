/** cookieStore: the AES-256-GCM sealed cookie used by sessionCookie({ store: cookieStore(...) }). */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { cookieStore, principal, requireAuth, sessionCookie } from '../../lib';

const OLD = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const NEW = 'Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc-Vb_Nm7Pq';
const OTHER = 'Zx9Cv8Bn7Ml6Kj5Hg4Fd3Sa2Qw1Er0Ty-Ui_Op8Lk';

const flip = (sealed: string, byteIndex: number): string => {
  const raw = Buffer.from(sealed, 'base64url');
  raw[byteIndex] = (raw[byteIndex] ?? 0) ^ 0x01;
  return raw.toString('base64url');
};

describe('cookieStore seal/open', () => {
  it('opens a cookie sealed by 0.1.0 (the wire format and its associated data are unchanged)', () => {
    const store = cookieStore({ secret: 'b3f1c2d4e5a69788a9bacbdcedfe0f1021324354657687988a9bacbdcedf0011' });
    const sealedBy010 = 'AVkmYUc7L7ZU8w464ZaHsKAuKWz-T9ZnDTdUP0stPmCHnlQI32dCGGw6Zi8wOwgTMIFDj38Y';
    expect(store.open(sealedBy010)).toBe('{"sealed-by":"0.1.0"}');
    // One flipped bit in the authenticated header (key id) or the body: refused.
    expect(store.open(`AVkmYUd${sealedBy010.slice(7)}`)).toBeNull();
    expect(store.open(`${sealedBy010.slice(0, -6)}AAAAAA`)).toBeNull();
  });

  it('round trips any UTF-8 text and never produces the same sealed value twice', () => {
    const store = cookieStore({ secret: OLD });
    for (const text of ['', 'hello', JSON.stringify({ id: 'u', roles: ['a'], note: 'ünïcödé ✓ 🙂' }), 'x'.repeat(2000)]) {
      const sealed = store.seal(text);
      expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(store.open(sealed)).toBe(text);
    }
    expect(store.seal('same')).not.toBe(store.seal('same'));
    expect(store.seal('secret-claims')).not.toContain('secret-claims');
  });

  it('any changed byte (version, key id, iv, tag, body) opens to null', () => {
    const store = cookieStore({ secret: OLD });
    const sealed = store.seal('{"id":"alice","roles":["admin"]}');
    const length = Buffer.from(sealed, 'base64url').length;
    // 0 version, 1-4 key id, 5-16 iv, 17-32 tag, 33+ body
    for (const i of [0, 1, 4, 5, 16, 17, 32, 33, length - 1]) expect(store.open(flip(sealed, i))).toBeNull();
    expect(store.open(sealed)).not.toBeNull();
  });

  it('a wrong version byte is refused even when everything else is intact', () => {
    const store = cookieStore({ secret: OLD });
    const raw = Buffer.from(store.seal('v'), 'base64url');
    for (const version of [0, 2, 255]) {
      const copy = Buffer.from(raw);
      copy[0] = version;
      expect(store.open(copy.toString('base64url'))).toBeNull();
    }
  });

  it('truncated, empty, non-base64url and padded inputs open to null without throwing', () => {
    const store = cookieStore({ secret: OLD });
    const sealed = store.seal('{"id":"bob"}');
    for (const n of [0, 1, 10, 22, 44, sealed.length - 1]) expect(store.open(sealed.slice(0, n))).toBeNull();
    for (const bad of ['', '!!!', `${sealed}=`, `${sealed}.`, sealed.replace(/[A-Za-z]/, '+'), ' '.repeat(50), 'A'.repeat(5000)]) {
      expect(store.open(bad)).toBeNull();
    }
    // a valid header with the body cut off
    const raw = Buffer.from(sealed, 'base64url');
    expect(store.open(raw.subarray(0, 33).toString('base64url'))).toBeNull();
  });

  it('key rotation: the new secret seals, the old one still opens, a removed one no longer opens', () => {
    const before = cookieStore({ secret: OLD });
    const during = cookieStore({ secret: [NEW, OLD] });
    const after = cookieStore({ secret: NEW });
    const oldSealed = before.seal('old-session');
    const newSealed = during.seal('new-session');
    expect(during.open(oldSealed)).toBe('old-session');
    expect(during.open(newSealed)).toBe('new-session');
    // sealed with NEW, first in the list
    expect(after.open(newSealed)).toBe('new-session');
    expect(before.open(newSealed)).toBeNull();
    // OLD removed from the list
    expect(after.open(oldSealed)).toBeNull();
    expect(cookieStore({ secret: OTHER }).open(oldSealed)).toBeNull();
  });

  it('refuses missing, short and weak secrets at construction', () => {
    expect(() => cookieStore({ secret: undefined as never })).toThrow(TypeError);
    expect(() => cookieStore({ secret: 'short' })).toThrow(/32 bytes/);
    expect(() => cookieStore({ secret: 'changeme'.repeat(4) })).toThrow(TypeError);
    expect(() => cookieStore({ secret: [] })).toThrow(TypeError);
  });
});

describe('sessionCookie over cookieStore', () => {
  function app(secret: string | string[]) {
    const auth = principal({ strategy: sessionCookie({ store: cookieStore({ secret }), secure: false }) });
    const a = express();
    a.use(express.json({ limit: '1mb' }));
    a.use(auth);
    a.post('/login', async (req: Request, res: Response) => {
      const body = req.body as { id: string; blob?: string };
      await req.auth.login({ id: body.id, roles: ['user'], claims: body.blob ? { blob: body.blob } : {} });
      res.sendStatus(204);
    });
    a.get('/me', requireAuth(), (req: Request, res: Response) => res.json({ id: req.principal?.id }));
    a.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.status ?? 500).json({ message: err.message });
    });
    return a;
  }
  const sidCookie = (res: request.Response): string | undefined => {
    const raw = res.headers['set-cookie'] as unknown;
    const list = Array.isArray(raw) ? (raw as string[]) : [];
    return list.find((c) => c.startsWith('sid='))?.split(';')[0];
  };

  it('a claim that would make the cookie exceed 4 KB is refused at login, not silently dropped', async () => {
    const a = app(OLD);
    const small = await request(a).post('/login').send({ id: 'u', blob: 'x'.repeat(1000) });
    expect(small.status).toBe(204);
    const cookie = sidCookie(small);
    expect(cookie).toBeDefined();
    expect((cookie as string).length).toBeLessThanOrEqual(4096);
    expect((await request(a).get('/me').set('cookie', cookie as string)).body).toEqual({ id: 'u' });

    const big = await request(a).post('/login').send({ id: 'u', blob: 'x'.repeat(5000) });
    expect(big.status).toBeGreaterThanOrEqual(400);
    expect(sidCookie(big)).toBeUndefined();
    expect(JSON.stringify(big.body)).toMatch(/4 KB/);
    // Incompressible data just over the line is refused too (not only repeated characters).
    const random = Buffer.from(Array.from({ length: 3000 }, (_, i) => 33 + ((i * 7919) % 90))).toString('latin1');
    const edge = await request(a).post('/login').send({ id: 'u', blob: random });
    expect(edge.status).toBeGreaterThanOrEqual(400);
    expect(sidCookie(edge)).toBeUndefined();
  });

  it('a cookie sealed before a key rotation keeps working; after the old key is removed it is refused', async () => {
    const res = await request(app(OLD)).post('/login').send({ id: 'rot' });
    const cookie = sidCookie(res) as string;
    expect((await request(app([NEW, OLD])).get('/me').set('cookie', cookie)).status).toBe(200);
    const refused = await request(app(NEW)).get('/me').set('cookie', cookie);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'ERR_INVALID_CREDENTIAL' });
  });

  it('a tampered cookie is anonymous-with-error (401), never a principal', async () => {
    const a = app(OLD);
    const cookie = sidCookie(await request(a).post('/login').send({ id: 'tamper' })) as string;
    const value = cookie.slice('sid='.length);
    const tampered = `sid=${flip(value, 40)}`;
    const res = await request(a).get('/me').set('cookie', tampered);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'ERR_INVALID_CREDENTIAL' });
  });
});
