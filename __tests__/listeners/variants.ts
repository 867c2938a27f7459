/** The variants of failing-listeners.test.ts, shared by the test and its app process (server.ts). */

/** How the listener fails: throws, async function that throws, or a plain function returning a rejected promise. */
export const FLAVOURS = ['throws', 'async-throws', 'returns-rejected'] as const;
/** Through which path the middleware reaches the listener (sync: a store-less JWT verified without a promise). */
export const PIPELINES = ['sync', 'async', 'multi'] as const;
/** Whether the app subscribes to `error`, or the failure must become a process warning. */
export const REPORTING = ['error-event', 'warning'] as const;
export const FAILING_EVENTS = ['authenticated', 'rejected', 'login', 'logout'] as const;

export interface Report { event: string; code: string; cause: string }
export interface Stats {
  unhandledRejections: number;
  uncaughtExceptions: number;
  /** By variant name: what the app's `error` listener received. */
  errorEvents: Record<string, Report[]>;
  /** Every process warning with code ERR_LISTENER_FAILED (the cause message names the variant). */
  warnings: Report[];
}

export function variantName(flavour: string, pipeline: string, reporting: string): string {
  return `${flavour}.${pipeline}.${reporting}`;
}
