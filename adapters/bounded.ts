import { StoreUnavailableError } from '../lib/errors';

/** A store call under way: settled by its answer or, past `due`, by the deadline. */
interface Pending {
  readonly due: number;
  settled: boolean;
  readonly reject: (err: unknown) => void;
  next: Pending | null;
}

/**
 * Runs store calls with a deadline. node-redis queues commands while it reconnects; without a deadline an outage
 * hangs every request. An error, a late answer or a client that cannot take commands (`unavailable` names why)
 * becomes `StoreUnavailableError`.
 *
 * Why one timer for all calls instead of a setTimeout per call: every call of a runner has the same timeout, so
 * deadlines fall due in the order the calls were made; a FIFO list and one timer armed for its oldest entry
 * enforce them all. A timer per call was created and cancelled on every request that reads the store.
 */
export function boundedRunner(timeoutMs: number, unavailable: () => string | null, retryAfterSeconds: number): <T>(work: () => Promise<T>) => Promise<T> {
  let head: Pending | null = null;
  let tail: Pending | null = null;
  /** Calls not yet settled: the timer keeps the process alive only while there are some, as a per-call timer did. */
  let open = 0;
  let timer: NodeJS.Timeout | null = null;

  const late = () => new StoreUnavailableError(new Error(`store did not answer within ${timeoutMs} ms`), retryAfterSeconds);

  /** Drops settled entries at the front; rejects those past their deadline. */
  const sweep = (now: number) => {
    while (head !== null && (head.settled || head.due <= now)) {
      const entry = head;
      head = entry.next;
      if (!entry.settled) { entry.settled = true; open -= 1; entry.reject(late()); }
    }
    if (head === null) tail = null;
  };

  const fire = () => {
    timer = null;
    sweep(Date.now());
    if (head !== null) arm(head.due - Date.now());
  };

  const arm = (ms: number) => {
    timer = setTimeout(fire, Math.max(1, ms));
    if (open === 0) timer.unref();
  };

  const settle = (entry: Pending) => {
    entry.settled = true;
    open -= 1;
    if (open === 0) timer?.unref();
  };

  return <T>(work: () => Promise<T>): Promise<T> => {
    const reason = unavailable();
    if (reason !== null) return Promise.reject(new StoreUnavailableError(new Error(reason), retryAfterSeconds));
    const now = Date.now();
    sweep(now);
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { due: now + timeoutMs, settled: false, reject, next: null };
      if (tail === null) head = entry; else tail.next = entry;
      tail = entry;
      open += 1;
      if (timer === null) arm(timeoutMs);
      else if (open === 1) timer.ref();
      const failed = (err: unknown) => { if (!entry.settled) { settle(entry); reject(new StoreUnavailableError(err, retryAfterSeconds)); } };
      let call: Promise<T>;
      // A client that throws instead of rejecting fails the same way.
      try { call = work(); } catch (err) { failed(err); return; }
      call.then((value) => { if (!entry.settled) { settle(entry); resolve(value); } }, failed);
    });
  };
}
