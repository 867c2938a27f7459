import { ListenerError } from './errors';

type Listener = (...args: never[]) => unknown;

/**
 * The middleware's event listeners. Unlike an EventEmitter, a listener that throws or returns a rejected
 * promise can neither change the HTTP answer nor crash the process (any anonymous client can trigger
 * `rejected`): its failure goes to the `error` listeners, or to `process.emitWarning` when there are none.
 */
export class Listeners<Events extends { [E in keyof Events]: unknown[] }> {
  private readonly byEvent = new Map<keyof Events, Listener[]>();

  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => unknown): void {
    // Copy on write: a listener added or removed while an event is being delivered takes effect next time.
    this.byEvent.set(event, [...(this.byEvent.get(event) ?? []), listener as Listener]);
  }

  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => unknown): void {
    const list = this.byEvent.get(event);
    const at = list?.lastIndexOf(listener as Listener) ?? -1;
    if (list === undefined || at < 0) return;
    const rest = [...list.slice(0, at), ...list.slice(at + 1)];
    if (rest.length === 0) this.byEvent.delete(event);
    else this.byEvent.set(event, rest);
  }

  listenerCount(event: keyof Events): number {
    return this.byEvent.get(event)?.length ?? 0;
  }

  clear(): void {
    this.byEvent.clear();
  }

  /** Calls every listener of `event`; never throws. */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const list = this.byEvent.get(event);
    if (list === undefined) return;
    for (const listener of list) invoke(listener, args, (err) => this.failed(event, err));
  }

  private failed(event: keyof Events, err: unknown): void {
    const error = new ListenerError(String(event), err);
    const handlers = event === 'error' ? undefined : this.byEvent.get('error' as keyof Events);
    if (handlers === undefined) return warn(error);
    // An `error` listener that fails itself is only warned about: reporting it to itself could loop.
    for (const handler of handlers) invoke(handler, [error], (again) => warn(new ListenerError('error', again)));
  }
}

function invoke(listener: Listener, args: readonly unknown[], onFailure: (err: unknown) => void): void {
  try {
    const returned = (listener as (...a: unknown[]) => unknown)(...args);
    if (isThenable(returned)) returned.then(undefined, onFailure);
  } catch (err) {
    onFailure(err);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The stable `code` (ERR_LISTENER_FAILED) lets an app filter these with `process.on('warning')`. */
function warn(error: ListenerError): void {
  process.emitWarning(error);
}
