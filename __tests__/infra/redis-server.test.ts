import { createClient, createCluster } from 'redis';
import { createConnection } from 'node:net';
import {
  pingPort,
  rawCommand,
  startRedisCluster,
  startRedisServer,
  type TestRedisCluster,
  type TestRedisServer,
} from '../helpers/redis-server';
import { cleanupPrefix, connectRedis, keysWithPrefix, redisUrl, uniquePrefix } from '../helpers/redis';

function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('shared Redis at REDIS_URL (global setup)', () => {
  it('REDIS_URL answers and prefixed keys are cleaned up', async () => {
    const client = await connectRedis();
    const prefix = uniquePrefix('infra shared');
    try {
      expect(process.env.REDIS_URL).toBe(redisUrl());
      expect(await client.ping()).toBe('PONG');
      await client.set(`${prefix}a`, '1');
      await client.set(`${prefix}b*[x]`, '2');
      await client.set(`${prefix.slice(0, -1)}other`, 'keep');
      expect((await keysWithPrefix(client, prefix)).sort()).toEqual([`${prefix}a`, `${prefix}b*[x]`]);
      expect(await cleanupPrefix(client, prefix)).toBe(2);
      expect(await keysWithPrefix(client, prefix)).toEqual([]);
      expect(await client.get(`${prefix.slice(0, -1)}other`)).toBe('keep');
    } finally {
      await client.del(`${prefix.slice(0, -1)}other`);
      await client.close();
    }
  });

  it('uniquePrefix differs between calls and ends with a colon', () => {
    const a = uniquePrefix('same');
    const b = uniquePrefix('same');
    expect(a).not.toBe(b);
    expect(a.endsWith(':')).toBe(true);
    expect(a).toContain(':same:');
  });
});

describe('startRedisServer', () => {
  let server: TestRedisServer | undefined;
  afterEach(async () => {
    await server?.destroy();
    server = undefined;
  });

  it('starts, answers PING, refuses connections when stopped, and starts again on the same port', async () => {
    server = await startRedisServer();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(await pingPort(server.port)).toBe(true);

    const client = createClient({ url: server.url });
    client.on('error', () => undefined);
    await client.connect();
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    client.destroy();

    await server.stop();
    expect(server.running).toBe(false);
    expect(await connectError(server.port)).toBe('ECONNREFUSED');

    await server.start();
    expect(server.running).toBe(true);
    expect(await rawCommand(server.port, ['PING'])).toBe('PONG');
    // no persistence by default: the key is gone after a restart
    expect(await rawCommand(server.port, ['GET', 'k'])).toBeNull();
  });

  it('appendonly mode keeps acknowledged writes across a crash (SIGKILL); restartEmpty wipes them', async () => {
    server = await startRedisServer({ appendonly: true });
    expect(await rawCommand(server.port, ['CONFIG', 'GET', 'appendfsync'])).toEqual(['appendfsync', 'always']);
    expect(await rawCommand(server.port, ['SET', 'durable', 'yes'])).toBe('OK');

    await server.kill();
    expect(await connectError(server.port)).toBe('ECONNREFUSED');
    await server.start();
    expect(await rawCommand(server.port, ['GET', 'durable'])).toBe('yes');

    await server.restartEmpty();
    expect(await rawCommand(server.port, ['DBSIZE'])).toBe(0);
  });
});

describe('startRedisCluster', () => {
  let cluster: TestRedisCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('forms a 3-master cluster that serves keys across slots, and survives a node restart', async () => {
    cluster = await startRedisCluster();
    expect(cluster.nodes).toHaveLength(3);
    for (const node of cluster.nodes) {
      const info = await rawCommand(node.port, ['CLUSTER', 'INFO']);
      expect(typeof info === 'string' && info.includes('cluster_state:ok')).toBe(true);
    }

    const client = createCluster({ rootNodes: cluster.rootNodes });
    client.on('error', () => undefined);
    await client.connect();
    try {
      // keys chosen to hash to different slots, hence (with 3 masters) different nodes
      const keys = Array.from({ length: 30 }, (_, i) => `infra:cluster:${i}`);
      for (const k of keys) await client.set(k, `v-${k}`);
      for (const k of keys) expect(await client.get(k)).toBe(`v-${k}`);

      const owners = new Set<number>();
      for (const node of cluster.nodes) {
        const n = await rawCommand(node.port, ['DBSIZE']);
        if (typeof n === 'number' && n > 0) owners.add(node.port);
      }
      expect(owners.size).toBe(3);
    } finally {
      client.destroy();
    }

    await cluster.restartNode(1);
    const states = await Promise.all(cluster.nodes.map((n) => rawCommand(n.port, ['CLUSTER', 'INFO'])));
    expect(states.every((s) => typeof s === 'string' && s.includes('cluster_state:ok'))).toBe(true);
  }, 60_000);
});
