/**
 * The example's Redis connection. node-redis's `connect()` retries forever by default, so an unreachable Redis
 * would leave the example hanging with nothing printed. Here the first connection has a budget: if Redis does not
 * answer within it, `connect()` rejects with a message naming the URL, and the server exits. Once connected, a
 * lost connection is retried as usual (requests meanwhile answer 503 from the store).
 */
import { createClient } from 'redis';

/** Whole start-up budget for the first connection, well inside the 5 s the example promises to exit within. */
const STARTUP_BUDGET_MS = 2_500;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export type ExampleRedis = ReturnType<typeof createClient>;

/** The URL without its password, for messages. */
export function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/** A client built but not connected (an impossible strategy/storage pair must fail before any I/O). */
export function createExampleRedis(url: string): { client: ExampleRedis; connect(): Promise<void> } {
  let started = false;
  const client = createClient({
    url,
    socket: {
      connectTimeout: STARTUP_BUDGET_MS - 500,
      // At start-up a refused or timed-out connection is the answer, not a reason to wait; later, back off.
      reconnectStrategy: (retries, cause) => (started ? Math.min(50 * 2 ** retries, 2_000) : cause),
    },
  });
  client.on('error', () => { /* outages surface as 503 from the store; keep the process alive */ });
  return {
    client,
    async connect() {
      try {
        await withDeadline(client.connect(), STARTUP_BUDGET_MS);
        started = true;
      } catch (err) {
        // The strategy's refusal already closed it; a deadline left it trying.
        if (client.isOpen) client.destroy();
        throw new Error(`cannot connect to Redis at ${shownUrl(url)} (${(err as Error).message}); start Redis or set REDIS_URL`);
      }
    },
  };
}

/** A server that accepts the connection but never answers the handshake would otherwise hold connect() open. */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
