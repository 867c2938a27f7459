export { cookieStore, type CookieStoreOptions } from '../lib/envelopes/sealed-cookie';
