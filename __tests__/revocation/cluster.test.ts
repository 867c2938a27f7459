/**
 * The revocation log on a Redis Cluster (3 local masters): two instances with node-redis cluster clients;
 * a logout and a revokeAll on A are refused on B within maxRevocationLag.
 */
import { performance } from 'node:perf_hooks';
import { startRedisCluster, rawCommand, type TestRedisCluster } from '../helpers/redis-server';
import { login, logout, me, refusedWithin, startInstance, type Instance } from './support';

const LAG_MS = 1000;
let cluster: TestRedisCluster;
let A: Instance;
let B: Instance;

beforeAll(async () => {
  cluster = await startRedisCluster();
  A = await startInstance({ redisUrl: '', rootNodes: cluster.rootNodes, prefix: 'rvc:', name: 'clA' });
  B = await startInstance({ redisUrl: '', rootNodes: cluster.rootNodes, prefix: 'rvc:', name: 'clB' });
}, 60_000);
afterAll(async () => {
  await A?.close();
  await B?.close();
  await cluster?.stop();
}, 30_000);

test('logout and revokeAll on A are refused on B within the bound (cluster clients)', async () => {
  const cred = await login(A, 'kim');
  const other = await login(A, 'lee');
  expect(await me(B, cred)).toMatchObject({ status: 200 });
  expect(await me(B, other)).toMatchObject({ status: 200 });
  expect(await logout(A, cred)).toBe(204);
  const r = await refusedWithin(B, cred, performance.now(), LAG_MS * 3);
  expect(r).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
  expect(r.elapsed).toBeLessThanOrEqual(LAG_MS);
  await A.auth.revokeAll('lee');
  const r2 = await refusedWithin(B, other, performance.now(), LAG_MS * 3);
  expect(r2.status).toBe(401);
  expect(r2.elapsed).toBeLessThanOrEqual(LAG_MS);
  expect(await me(B, await login(A, 'lee'))).toMatchObject({ status: 200 });
  // B's follower is a named XREAD connection on the node that owns the log's slot.
  const lists = await Promise.all(cluster.nodes.map((n) => rawCommand(n.port, ['CLIENT', 'LIST', 'TYPE', 'normal'])));
  expect(lists.join('\n')).toMatch(/name=clB:rv-log .*cmd=xread/);
}, 30_000);
