/** Test support for the issuer/verifier suites: real loopback HTTP servers, no mocked fetch. */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Express } from 'express';

export interface Listening {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts an Express app (or a handler) on 127.0.0.1, on `port` (0: ephemeral). */
export async function listen(app: Express | Parameters<typeof createServer>[1], port = 0): Promise<Listening> {
  const server: Server = createServer(app as Parameters<typeof createServer>[1]);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A JWKS endpoint that counts the requests it answers and can be stopped and started again on the same port. */
export interface JwksServer {
  readonly url: string;
  /** Requests answered so far. */
  readonly requests: number;
  /** When the last request was answered (ms). */
  readonly lastServedAt: number;
  setBody(body: () => unknown): void;
  /** From now on, requests are held unanswered (an issuer that hangs); `held` counts those still open. */
  hang(): void;
  readonly held: number;
  /** Answers the held requests with the current body, and every later one at once. */
  recover(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startJwksServer(initial: () => unknown): Promise<JwksServer> {
  let body = initial;
  let requests = 0;
  let lastServedAt = 0;
  let running: Listening | null = null;
  let hanging = false;
  const held = new Set<ServerResponse>();
  const answer = (res: ServerResponse) => {
    requests += 1;
    lastServedAt = Date.now();
    res.setHeader('content-type', 'application/jwk-set+json');
    res.end(JSON.stringify(body()));
  };
  const handler: Parameters<typeof createServer>[1] = (_req, res) => {
    if (!hanging) return answer(res);
    held.add(res);
    res.once('close', () => held.delete(res));
  };
  running = await listen(handler);
  const port = running.port;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() { return requests; },
    get lastServedAt() { return lastServedAt; },
    setBody(next) { body = next; },
    hang() { hanging = true; },
    get held() { return held.size; },
    recover() {
      hanging = false;
      for (const res of held) answer(res);
    },
    async stop() { await running?.close(); running = null; },
    async start() { if (running === null) running = await listen(handler, port); },
    async close() { await running?.close(); running = null; },
  };
}

/** Polls `check` until it returns true (no fixed sleeps); fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function ecKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export function rsaKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** The public JWK of a key, with kid/alg/use as an issuer would publish it. */
export function publicJwk(key: KeyObject, kid: string, alg: string): Record<string, unknown> {
  return { ...(key.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg, use: 'sig' };
}

export const ISSUER = 'https://auth.test';
export const AUDIENCE = 'orders-api';
