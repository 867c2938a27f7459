/**
 * A cookie credential is the same credential however the cookie is spelled (plain, quoted, percent-encoded), and a
 * malformed percent-encoding is refused, never decoded into something else. The cookie carrier skips decoding when
 * there is no '%' (lib/carriers/cookie.ts): these pin down that the shortcut changes no answer.
 */
import express from 'express';
import request from 'supertest';
import { cookieStore, principal, requireAuth, sessionCookie, statelessJwt, type Strategy } from '../../lib';
import { findCookie, readCookie } from '../../lib/carriers/cookie';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const everyCharEncoded = (v: string) => [...v].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');

describe.each<[string, () => Strategy, string]>([
  ['statelessJwt in a cookie', () => statelessJwt({ secret, carrier: 'cookie', cookie: { secure: false } }), 'ep'],
  ['sealed cookie session', () => sessionCookie({ store: cookieStore({ secret }), secure: false }), 'sid'],
])('%s', (_label, make, name) => {
  it('accepts the plain, quoted and percent-encoded spellings, and refuses a malformed escape', async () => {
    const auth = principal({ strategy: make() });
    const app = express();
    app.use(auth);
    app.post('/login', async (req, res) => { await req.auth.login({ id: 'lou', roles: ['user'] }); res.sendStatus(204); });
    app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
    try {
      const set = ([] as string[]).concat((await request(app).post('/login').expect(204)).headers['set-cookie'] ?? []);
      const pair = set.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
      if (pair === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(set)}`);
      const value = decodeURIComponent(pair.slice(name.length + 1));
      expect(value).not.toContain('%');
      for (const spelled of [value, `"${value}"`, everyCharEncoded(value), `other=1; ${name}=${value}; theme=dark`]) {
        const cookie = spelled.includes(`${name}=`) ? spelled : `${name}=${spelled}`;
        expect((await request(app).get('/me').set('Cookie', cookie).expect(200)).body.id).toBe('lou');
      }
      for (const broken of [`${value}%E0%A4%A`, `${value.slice(0, -2)}%ZZ`, `%${value}`]) {
        const res = await request(app).get('/me').set('Cookie', `${name}=${broken}`);
        expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
        expect(JSON.stringify(res.body)).not.toContain('lou');
      }
    } finally {
      await auth.close();
    }
  });
});

describe('findCookie reads a Cookie header exactly as split(";") + trim() + startsWith(name + "=") did', () => {
  /** The reading it replaced, kept here as the reference. */
  function reference(header: string, name: string): string | null {
    for (const part of header.split(';')) {
      const trimmed = part.trim();
      if (trimmed.startsWith(`${name}=`)) return trimmed.slice(name.length + 1);
    }
    return null;
  }

  it('on hand-picked headers', () => {
    const cases: [string, string][] = [
      ['sid=abc', 'sid'], ['a=1; sid=abc; b=2', 'sid'], ['a=1;sid=abc', 'sid'], ['sid=', 'sid'], ['sid', 'sid'],
      ['sidx=1; sid=2', 'sid'], ['xsid=1', 'sid'], [' sid=abc ', 'sid'], ['\tsid=abc\t', 'sid'], ['\u00a0sid=a\u00a0', 'sid'],
      ['sid =abc', 'sid'], ['sid= abc', 'sid'], ['sid=a;', 'sid'], [';;sid=a;;', 'sid'], ['sid=1; sid=2', 'sid'],
      ['', 'sid'], [';', 'sid'], ['s=1', 's'], ['sid="q"', 'sid'], ['sid=a=b', 'sid'], ['\ufeffsid=a\u3000', 'sid'],
    ];
    for (const [header, name] of cases) expect({ header, value: findCookie(header, name) }).toEqual({ header, value: reference(header, name) });
  });

  it('on 20,000 random headers over the characters that matter', () => {
    const alphabet = ['s', 'i', 'd', '=', ';', ' ', '\t', '\u00a0', '\u2000', '\u3000', '\ufeff', '"', '%', 'x', '\u180e', '\u200b'];
    let seed = 20261130;
    const random = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    let found = 0;
    for (let i = 0; i < 20_000; i += 1) {
      let header = '';
      const length = random(24);
      for (let j = 0; j < length; j += 1) header += random(4) === 0 ? 'sid=' : alphabet[random(alphabet.length)];
      const name = ['sid', 's', 'id'][random(3)] as string;
      const expected = reference(header, name);
      if (expected !== null) found += 1;
      if (findCookie(header, name) !== expected) expect({ header, name, value: findCookie(header, name) }).toEqual({ header, name, value: expected });
    }
    expect(found).toBeGreaterThan(2_000); // the generator does produce matches, not only misses
  });
});

describe('readCookie decodes exactly as decodeURIComponent does', () => {
  it('for the spellings it shortcuts (no escape; express-session\'s s%3A prefix) and the ones it does not', () => {
    const values = ['abc', 's%3Aabc.def', 's%3Aabc%2Bdef', 's%3a.x', 's%3A', '%41s%3A', 'a%20b', '"s%3Aq.r"', 's%3A%', 's%3Ax%E0%A4%A'];
    for (const value of values) {
      const req = { headers: { cookie: `sid=${value}` } } as unknown as Parameters<typeof readCookie>[0];
      const unquoted = value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
      let expected: string;
      try { expected = decodeURIComponent(unquoted); } catch { expected = value; }
      expect({ value, read: readCookie(req, { name: 'sid', secure: false, sameSite: 'lax', path: '/', domain: undefined }, 8192) }).toEqual({ value, read: expected });
    }
  });
});
