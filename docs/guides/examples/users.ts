/** Shared by the guides' before/after apps: the settings both read, and a demo user check (not a user store). */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface Settings {
  /** HS256 secret (passport-jwt guide); at least 32 bytes. */
  secret: string;
  issuer: string;
  audience: string;
}

const USERS: Record<string, { password: string; roles: string[] }> = {
  alice: { password: 'alice-wonderland', roles: ['admin'] },
  bob: { password: 'bob-builder', roles: ['user'] },
};

export function checkPassword(body: { username?: string; password?: string }): { id: string; roles: string[] } | null {
  const name = String(body.username ?? '');
  const user = Object.hasOwn(USERS, name) ? USERS[name] : undefined;
  const want = createHash('sha256').update(user?.password ?? 'no such user').digest();
  const got = createHash('sha256').update(String(body.password ?? '')).digest();
  return timingSafeEqual(want, got) && user !== undefined ? { id: name, roles: [...user.roles] } : null;
}
