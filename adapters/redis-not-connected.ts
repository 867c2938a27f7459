/** Stable `code` of the warning emitted when a redisStore's client was never connected (or was closed). */
export const REDIS_NOT_CONNECTED = 'EXPRESS_PRINCIPAL_REDIS_NOT_CONNECTED';

const NOT_CONNECTED = 'the Redis client is not connected: call await client.connect() before principal() (or it was closed)';

/**
 * Why the client cannot take a command now, or `null` when it can. node-redis's `isOpen` is false only before
 * `connect()` and after `close()`/`quit()`: no reconnect will come, so that cause is also named once as a warning
 * (every request would otherwise answer 503 with no hint). `isReady` false with `isOpen` true is a reconnect.
 */
export function redisUnavailability(client: { readonly isOpen: boolean; readonly isReady?: boolean }): () => string | null {
  let warned = false;
  return () => {
    if (client.isOpen !== true) {
      if (!warned) {
        warned = true;
        process.emitWarning(`express-principal: redisStore: ${NOT_CONNECTED}; until then every request that needs the store answers 503`, {
          type: 'ExpressPrincipalWarning', code: REDIS_NOT_CONNECTED,
        });
      }
      return NOT_CONNECTED;
    }
    return client.isReady === false ? 'the Redis client is reconnecting' : null;
  };
}
