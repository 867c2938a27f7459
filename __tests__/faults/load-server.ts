/**
 * The app side of load.test.ts, in its own process so that unhandled rejections and uncaught
 * exceptions in the library are counted by a real `process` (inside jest's sandbox they are not seen).
 * Started with `fork(…, { execArgv: ['-r', 'ts-node/register/transpile-only'] })`; env REDIS_URL.
 * Messages: → { ports } once listening; ← 'stats' → { stats }; ← 'selftest' makes one deliberate unhandled rejection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { redisStore } from '../../lib';
import { makeApp, makeStrategy, STRATEGY_KINDS, type StrategyKind } from '../adapters/test-app';

const stats = { unhandledRejections: 0, uncaughtExceptions: 0 };
process.on('unhandledRejection', () => { stats.unhandledRejections += 1; });
process.on('uncaughtException', () => { stats.uncaughtExceptions += 1; });

async function main(): Promise<void> {
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  const ports: Partial<Record<StrategyKind, number>> = {};
  for (const kind of STRATEGY_KINDS) {
    const { app } = makeApp(makeStrategy(kind, redisStore({ client, prefix: `load:${kind}:` })));
    const srv = http.createServer(app);
    srv.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    ports[kind] = (srv.address() as AddressInfo).port;
  }
  process.on('message', (m) => {
    if (m === 'stats') process.send?.({ stats });
    if (m === 'selftest') void Promise.reject(new Error('deliberate: proves the counter works'));
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ports });
}

main().catch((err: unknown) => {
  process.send?.({ fatal: String(err) });
  process.exit(1);
});
