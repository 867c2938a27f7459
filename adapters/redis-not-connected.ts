/** Stable `code` of the warning emitted when a redisStore's client was never connected (or was closed). */
export const REDIS_NOT_CONNECTED = 'EXPRESS_PRINCIPAL_REDIS_NOT_CONNECTED';

const NOT_CONNECTED = 'the Redis client is not connected: call await client.connect() before principal() (or it was closed)';

/**
 * What a client can do now: `closed` means no reconnect will come (never connected, or closed/quit: node-redis
 * `isOpen` false, ioredis status `wait` or `end`); `reconnecting` will pass by itself.
 */
export type ClientState = 'ready' | 'reconnecting' | 'closed';

/**
 * Why the client cannot take a command now, or `null` when it can. A closed client is also named once as a
 * warning (every request would otherwise answer 503 with no hint).
 */
export function redisUnavailability(state: () => ClientState): () => string | null {
  let warned = false;
  return () => {
    const now = state();
    if (now === 'closed') {
      if (!warned) {
        warned = true;
        process.emitWarning(`express-principal: redisStore: ${NOT_CONNECTED}; until then every request that needs the store answers 503`, {
          type: 'ExpressPrincipalWarning', code: REDIS_NOT_CONNECTED,
        });
      }
      return NOT_CONNECTED;
    }
    return now === 'reconnecting' ? 'the Redis client is reconnecting' : null;
  };
}
