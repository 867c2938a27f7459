import { StoreUnavailableError } from '../lib/errors';

/**
 * Runs a store call with a deadline. node-redis queues commands while it reconnects; without a
 * deadline an outage hangs every request. An error, a late answer or a client that cannot take commands
 * (`unavailable` names why) becomes `StoreUnavailableError`.
 */
export function bounded<T>(work: () => Promise<T>, timeoutMs: number, unavailable: () => string | null, retryAfterSeconds: number): Promise<T> {
  const reason = unavailable();
  if (reason !== null) return Promise.reject(new StoreUnavailableError(new Error(reason), retryAfterSeconds));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreUnavailableError(new Error(`store did not answer within ${timeoutMs} ms`), retryAfterSeconds)), timeoutMs);
    work().then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(new StoreUnavailableError(err, retryAfterSeconds)); },
    );
  });
}
