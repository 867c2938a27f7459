/**
 * Test-only Redis helpers: a connected node-redis v5 client, unique per-test
 * key prefixes, and prefix cleanup by SCAN (fine in tests, never in lib/).
 */
import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientOptions, type RedisClientType } from 'redis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The Redis URL tests should use (global-setup may point it at a private server). */
export function redisUrl(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

export type TestRedisClient = RedisClientType;

export interface ConnectRedisOptions extends RedisClientOptions {
  /** Called for client 'error' events (default: ignored, so fault tests don't crash the worker; commands still reject). */
  onError?: (err: Error) => void;
}

/**
 * A node-redis v5 client, already connected, at opts.url or REDIS_URL.
 * Close it with `await client.close()` (or `client.destroy()` when the server is gone).
 */
export async function connectRedis(opts: ConnectRedisOptions = {}): Promise<TestRedisClient> {
  const { onError, ...clientOpts } = opts;
  const client = createClient({ url: redisUrl(), ...clientOpts }) as unknown as TestRedisClient;
  client.on('error', (err: Error) => {
    onError?.(err);
  });
  await client.connect();
  return client;
}

/**
 * A key prefix unique to this test run, worker and call, e.g.
 * `ept:stateful-jwt:12345:lz1x2c:9f3a1b:`. Always ends with ':'.
 */
export function uniquePrefix(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 40) || 'test';
  return `ept:${safe}:${process.pid}:${Date.now().toString(36)}:${randomBytes(3).toString('hex')}:`;
}

/** Escape Redis glob metacharacters so a prefix matches literally in SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** Keys whose names start with prefix (SCAN; test-only). */
export async function keysWithPrefix(client: TestRedisClient, prefix: string): Promise<string[]> {
  if (!prefix) throw new Error('keysWithPrefix: refusing an empty prefix');
  const found: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) {
    found.push(...batch);
  }
  return found;
}

/** Delete every key whose name starts with prefix (SCAN + UNLINK; test-only). Returns how many were deleted. */
export async function cleanupPrefix(client: TestRedisClient, prefix: string): Promise<number> {
  if (!prefix) throw new Error('cleanupPrefix: refusing an empty prefix');
  let deleted = 0;
  for await (const batch of client.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) {
    if (batch.length > 0) deleted += await client.unlink(batch);
  }
  return deleted;
}
