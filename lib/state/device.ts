import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import Bowser from 'bowser';
import { configError } from '../errors';

/** How the client address is kept with a session: truncated to its network, hashed, in full, or not at all. */
export type AddressPolicy = 'truncate' | 'hash' | 'full' | 'off';

/** What a session remembers of the device that logged in (`principal({ devices })`). */
export interface DeviceOptions {
  /** Store a readable summary of the user agent ("Chrome 131 on macOS"). @default true */
  userAgent?: boolean;
  /**
   * The client address as Express sees it (`req.ip`, so `trust proxy` applies): `'truncate'` keeps the network
   * (IPv4 /24, IPv6 /48), `'hash'` a salted digest that only says "same address or not", `'full'` the address.
   * @default 'truncate'
   */
  address?: AddressPolicy;
  /** Salt of `address: 'hash'` (keep it secret and stable across instances). Required with `'hash'`. */
  addressSalt?: string;
}

export interface DeviceFacts {
  readonly device: string | null;
  readonly address: string | null;
}

export interface DevicePolicy {
  describe(userAgent: string | undefined, ip: string | undefined): DeviceFacts;
}

const MAX_UA = 512;

/** "Chrome 131 on macOS", "Firefox 133 on Windows", "curl 8": the major version is enough to recognise a device. */
export function summarizeUserAgent(userAgent: string | undefined): string | null {
  if (typeof userAgent !== 'string' || userAgent.length === 0) return null;
  const parsed = Bowser.parse(userAgent.slice(0, MAX_UA));
  const browser = parsed.browser.name ?? '';
  const major = parsed.browser.version?.split('.')[0] ?? '';
  const os = parsed.os.name ?? '';
  const name = [browser, major].filter(Boolean).join(' ') || userAgent.split(/[\s/]/)[0]?.slice(0, 40) || 'unknown';
  return os ? `${name} on ${os}` : name;
}

/** Keeps the network, not the host: enough to tell "home" from "another country", not to locate someone. */
export function truncateAddress(ip: string): string {
  const v4 = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  if (isIP(v4) === 4) return v4.split('.').slice(0, 3).concat('0').join('.') + '/24';
  if (isIP(ip) !== 6) return 'unknown';
  const groups = expandV6(ip);
  return `${groups.slice(0, 3).join(':')}::/48`;
}

function expandV6(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = new Array(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...(ip.includes('::') ? fill : []), ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

export function devicePolicy(options: DeviceOptions | false | undefined): DevicePolicy {
  if (options === false) return { describe: () => ({ device: null, address: null }) };
  const userAgent = options?.userAgent ?? true;
  const address = options?.address ?? 'truncate';
  if (!['truncate', 'hash', 'full', 'off'].includes(address)) throw configError("devices.address must be 'truncate', 'hash', 'full' or 'off'");
  const salt = options?.addressSalt;
  if (address === 'hash' && (typeof salt !== 'string' || salt.length < 16)) {
    throw configError("devices.address 'hash' needs `addressSalt` (at least 16 characters, the same on every instance)");
  }
  const keep = (ip: string | undefined): string | null => {
    if (address === 'off' || typeof ip !== 'string' || ip.length === 0) return null;
    if (address === 'full') return ip;
    if (address === 'truncate') return truncateAddress(ip);
    return 'h:' + createHash('sha256').update(`${salt}\0${ip}`).digest('base64url').slice(0, 16);
  };
  return { describe: (ua, ip) => ({ device: userAgent ? summarizeUserAgent(ua) : null, address: keep(ip) }) };
}
