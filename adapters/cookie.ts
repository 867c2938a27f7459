import { cookieStore as sealedCookieStore, type CookieStoreOptions } from '../lib/envelopes/sealed-cookie';
import type { CookieStore } from '../lib/types';
import { checkOptions } from '../lib/option-keys';

export type { CookieStoreOptions };

/**
 * The encrypted cookie-only "store": the session lives in the cookie, sealed with AES-256-GCM (lib/envelopes/sealed-cookie.ts).
 * @example
 * principal({ strategy: sessionCookie({ store: cookieStore({ secret: [current, previous] }) }) })
 */
export function cookieStore(options: CookieStoreOptions): CookieStore {
  checkOptions('cookieStore', options);
  return sealedCookieStore(options);
}
