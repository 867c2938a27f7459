/**
 * A race the load test can hit: a stateless token issued and acknowledged, then `revokeAll` for its
 * subject within the same millisecond. The "revoked before" mark is a ms timestamp; the token must
 * still be refused (fail closed), whatever the clock resolution.
 */
import request from 'supertest';
import { memoryStore } from '../../lib';
import { credentialFrom, makeApp, makeStrategy } from '../adapters/test-app';

it('statelessJwt: revokeAll right after an acknowledged login refuses that token, even within the same millisecond', async () => {
  const { app, auth } = makeApp(makeStrategy('stateless-jwt', memoryStore({ prefix: 'same-ms:' })));
  try {
    const survivors: number[] = [];
    let sameMs = 0;
    for (let i = 0; i < 300; i += 1) {
      const res = await request(app).post('/login').send({ id: `same-ms-${i}` });
      expect(res.status).toBe(200);
      const ackAt = Date.now();
      await auth.revokeAll(`same-ms-${i}`);
      if (Date.now() === ackAt) sameMs += 1;
      const me = await request(app).get('/me').set(credentialFrom('stateless-jwt', res));
      if (me.status === 200) survivors.push(i);
    }
     
    console.log(`revoke-same-ms: 300 login→revokeAll pairs, ${sameMs} revokeAll calls done within the login-ack millisecond, ${survivors.length} tokens survived`);
    expect(survivors).toEqual([]);
  } finally {
    await auth.close();
  }
});
