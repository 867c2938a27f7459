
/** What the app hands to `req.auth.login()`. */
export interface Identity {
  /** The subject: becomes `sub` in tokens and `req.principal.id`. */
  id: string;
  /** Role names, checked by `requireRole` / `requireAnyRole` (expanded by a `roleHierarchy`). @default [] */
  roles?: string[];
  /** OAuth-style scopes, checked by `requireScope`. @default [] */
  scopes?: string[];
  /** App data; must be JSON-serialisable. */
  claims?: Record<string, unknown>;
}

/** Which strategy authenticated a request (`req.principal.strategy`, `Strategy.name`). */
export type StrategyName = 'stateless-jwt' | 'stateful-jwt' | 'session-cookie';

/** What every strategy attaches to `req.principal`: the same shape everywhere. */
export interface Principal {
  /** The subject (`Identity.id`). */
  readonly id: string;
  /** Role names; empty when none. */
  readonly roles: readonly string[];
  /** Scopes; empty when none. */
  readonly scopes: readonly string[];
  /** The app data given at login (or mapped from a foreign token's claims). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The strategy that recognised the credential. */
  readonly strategy: StrategyName;
  /** `jti` (stateless) or the session id (stateful, session). */
  readonly sessionId: string | null;
  /** When the credential was issued (`iat` for tokens). */
  readonly issuedAt: Date;
  /** When the credential expires (`exp` for tokens, the session record's expiry for sessions). */
  readonly expiresAt: Date;
  /** When the user last proved who they are (password, passkey…). */
  readonly authenticatedAt: Date;
  /** When roles/scopes/claims were last loaded from the source of truth. */
  readonly loadedAt: Date;
}

/** What `req.auth.login()` resolves to. */
export interface Issued {
  /** The bearer token, when the strategy issues one (JWT strategies); `null` for cookie sessions. */
  readonly token: string | null;
  /** When the issued credential expires. */
  readonly expiresAt: Date;
  /** The session id (stateful strategies) or `jti` (stateless); `null` when there is none. */
  readonly sessionId: string | null;
  /** Opaque refresh token, when refresh tokens are configured and the client is not a browser. */
  readonly refreshToken?: string;
  /** The new session's handle in `req.auth.sessions()`, when the strategy keeps sessions server-side. */
  readonly handle?: string;
}

/** Where a credential travels: the `Authorization: Bearer` header or a cookie. */
export type CarrierKind = 'header' | 'cookie';

/** Cookie options shared by every cookie carrier. */
export interface CookieOptions {
  /** Cookie name. @default '__Host-ep' for JWT strategies, '__Host-sid' for sessions ('ep' / 'sid' when not secure) */
  name?: string;
  /** `Secure` flag. Only an explicit `false` turns it off (plain-http localhost). @default true */
  secure?: boolean;
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /** Ignored when `secure` (the `__Host-` prefix requires no Domain). */
  domain?: string;
  /** @default '/' */
  path?: string;
}

/**
 * The small contract every server-side store fulfils. Values are opaque strings; every key carries a TTL.
 * Methods reject with `StoreUnavailableError` when the backend cannot answer in time.
 */
export interface StateStore {
  /** `'redis'`: state shared by every instance; `'memory'`: this process only. */
  readonly kind: 'redis' | 'memory';
  /** Prepended to every key the store writes. */
  readonly prefix: string;
  /** The value under `key`, or `null` when missing or expired. */
  get(key: string): Promise<string | null>;
  /** Reads several keys in one round trip; missing keys come back as `null`. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** Writes `value` under `key`, expiring after `ttlMs`. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /**
   * For state several strategies share (a subject's revocation mark): keeps the larger of the held number and
   * `value`, and the key lives at least `ttlMs` from now, never less than it already would.
   */
  setMax(key: string, value: number, ttlMs: number): Promise<void>;
  /**
   * Replaces `key` only if it still holds `expected` (compare-and-set); false otherwise. Sliding a session
   * goes through here, so it can neither resurrect a record deleted meanwhile (logout, revokeAll) nor undo
   * a role change written meanwhile.
   */
  swap(key: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  /** Removes `key`; resolves whether or not it existed. */
  delete(key: string): Promise<void>;
  /** Sets a new TTL on a live key; never creates a missing one. */
  touch(key: string, ttlMs: number): Promise<void>;
  /** Per-subject index: lets `revokeAll` find a subject's sessions without scanning the keyspace. */
  indexAdd(subject: string, member: string, ttlMs: number): Promise<void>;
  /** The members of a subject's index (empty when none). */
  indexMembers(subject: string): Promise<string[]>;
  /** Removes members from a subject's index. */
  indexRemove(subject: string, members: readonly string[]): Promise<void>;
  /** An append-only, trimmed log that instances follow to keep local revocation caches current (absent: direct lookups). */
  readonly revocationLog?: RevocationLog;
  /** A sibling log of session-record invalidations that keeps local record caches coherent (lib/state/record-cache.ts). */
  readonly invalidationLog?: RevocationLog;
  /** Releases what the store owns (timers, its own connections); never the app's client. */
  close(): Promise<void>;
}

/**
 * A shared log (a Redis Stream) of revocations. Unlike pub/sub nothing is lost while a follower is
 * disconnected: it resumes from the last entry it saw, and is told when entries it never saw were trimmed.
 */
export interface RevocationLog {
  /**
   * Appends one entry; resolves once the backend has it, to the entry's position when the backend can name one
   * (what `applied` compares). `retainMs`: how long the log must keep it at least.
   */
  append(fields: readonly string[], retainMs: number): Promise<string | void>;
  /**
   * Follows the log from its (trimmed) beginning on a dedicated connection. `blockMs`: longest wait per round.
   * A follower that can, records in the backend how far it has applied the log, with a heartbeat (for receipts).
   */
  follow(listener: RevocationLogListener, blockMs: number): RevocationLogFollower;
  /** How many live followers (a recent heartbeat) have applied the log up to `position`, of how many. Optional. */
  applied?(position: string): Promise<AppliedCount>;
}

/** How many live followers of a log have applied it up to a position. */
export interface AppliedCount {
  /** Followers at or past the position. */
  readonly applied: number;
  /** Followers with a recent heartbeat. */
  readonly instances: number;
}

/**
 * What a revocation (`revokeAll`, `sessions.revoke`, `logoutOthers`) can resolve to when asked: how many live
 * instances had applied it, of how many, and how long that took. Instances that keep no local copy (they ask the
 * store on every request) have nothing to apply and are not counted.
 */
export interface RevocationReceipt {
  /** Sessions ended, when the strategy can count them (stateless tokens: null). */
  readonly ended: number | null;
  /** Live instances that have applied the revocation. */
  readonly applied: number;
  /** Live instances following the revocation log (a heartbeat within the last 30 s). */
  readonly instances: number;
  /** Milliseconds from the revocation until `applied` reached its value; null when no instance follows the log. */
  readonly withinMs: number | null;
  /** Every live instance has applied it. */
  readonly complete: boolean;
}

/** What a `RevocationLog` follower reports to. */
export interface RevocationLogListener {
  /** Entries in log order. */
  entries(batch: readonly (readonly string[])[]): void;
  /** Every entry appended before `atMs` (performance.now() clock) has been delivered. */
  synced(atMs: number): void;
  /** Entries appended up to `untilEpochMs` (backend clock) may never be delivered (trimmed before we read them). */
  gap(untilEpochMs: number): void;
  /** The backend restarted or lost its data (flushed, log deleted): anything read from it before may be gone. */
  reset?(): void;
}

/** A running `RevocationLog.follow()` loop. */
export interface RevocationLogFollower {
  /** Stops the loop and closes the follower's own connection (never the app's client). */
  close(): Promise<void>;
}

/** The encrypted cookie-only "store": the session lives in the cookie itself. */
export interface CookieStore {
  /** Always `'cookie'`: tells it apart from a `StateStore`. */
  readonly kind: 'cookie';
  /** Encrypts and authenticates `plaintext` with the current key. */
  seal(plaintext: string): string;
  /** Returns `null` for anything that does not decrypt with one of the keys. */
  open(sealed: string): string | null;
}

/** Any store a session can live in: server-side (`StateStore`) or in the cookie (`CookieStore`). */
export type AnyStore = StateStore | CookieStore;

/** A credential as found on the request: where it travelled, and its raw value. */
/** One live session (a device) of a subject, as `auth.sessions.list()` and `req.auth.sessions()` show it. */
export interface SessionInfo {
  /** Names the session for `revoke`; derived one-way from its id, so it is never usable as a credential. */
  readonly handle: string;
  /** The strategy that keeps it (a refresh-token family is `stateless-jwt`). */
  readonly strategy: StrategyName;
  /** When it was created (its login). */
  readonly createdAt: Date;
  /** The last request seen, written at most once per `touchInterval` (like the idle slide). */
  readonly lastSeenAt: Date;
  /** When it ends unless used (idle) or at the latest (absolute), whichever comes first. */
  readonly expiresAt: Date;
  /** When the user last proved who they are (the login, or a later step-up). */
  readonly authenticatedAt: Date;
  /** "Chrome 131 on macOS", or null when not kept (`principal({ devices })`). */
  readonly device: string | null;
  /** The client address as kept: truncated (`203.0.113.0/24`), hashed (`h:…`), in full, or null. */
  readonly address: string | null;
  /** True on the session making the request (`req.auth.sessions()` only). */
  readonly current: boolean;
}

export interface Presented {
  readonly carrier: CarrierKind;
  readonly value: string;
}

export interface Authenticated {
  readonly principal: Principal;
  readonly carrier: CarrierKind;
}

/** Types a strategy only its factories can make: a symbol that exists in these declarations alone. */
declare const strategyBrand: unique symbol;

/**
 * A strategy, as `statelessJwt()`, `statefulJwt()`, `sessionCookie()` and `fromConfig()` make it: one point in
 * the carrier × envelope × state grid, handed to `principal()`. Opaque: what it does is reached through
 * `principal()`'s middleware, `req.auth` and its admin API.
 */
export interface Strategy {
  /** Which strategy this is. */
  readonly name: StrategyName;
  /** Where it reads credentials from. */
  readonly carriers: readonly CarrierKind[];
  /** @internal */
  readonly [strategyBrand]: true;
}
