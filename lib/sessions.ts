import type { Request } from 'express';
import type { Principal, SessionInfo, StrategyName } from './types';
import type { StrategyImpl } from './strategy';
import type { Setup } from './setup';
import { MAX_SESSIONS_PER_SUBJECT, type ListedSession, type SessionDirectory } from './state/session-repository';
import { awaitReceipt, type LogMark } from './state/receipts';
import { toMs } from './duration';
import type { RevocationReceipt } from './types';
import { AuthRequiredError, configError, NotSupportedError, SessionLimitError } from './errors';

/** What `sessionCreated` / `sessionRevoked` carry: the subject and the session's handle, never a credential. */
export interface SessionEvent {
  /** Whose session. */
  readonly subject: string;
  /** The session's handle (as `sessions()` lists it). */
  readonly handle: string;
  /** The strategy that keeps it. */
  readonly strategy: StrategyName;
  /** The device summary kept with it ("Chrome 131 on macOS"), or null. */
  readonly device: string | null;
  /** The client address as kept (truncated, hashed or full), or null. */
  readonly address: string | null;
}

/** Why a session ended: its own logout, `revoke(handle)`, `logoutOthers()` / `revokeOthers`, or `maxSessionsPerSubject`. */
export type SessionRevokedReason = 'logout' | 'revoked' | 'others' | 'limit';

export interface SessionRevokedEvent extends SessionEvent {
  /** What ended it. */
  readonly reason: SessionRevokedReason;
}

/** Ask a revocation for a receipt: it then resolves once every live instance has applied it, or after `wait`. */
export interface ReceiptOptions {
  /** Resolve to a receipt instead of the plain result. */
  receipt: true;
  /** Longest wait for the instances. @default '2s' */
  wait?: string | number;
}

/** `auth.sessions`: a subject's devices, for an admin page or a support tool. */
export interface SessionsAdmin {
  /** The subject's live sessions, oldest first, across every strategy that keeps them. */
  list(subject: string): Promise<SessionInfo[]>;
  /** Ends the subject's session with this handle; false when there is none (already ended, or not this subject's). */
  revoke(subject: string, handle: string): Promise<boolean>;
  /** The same, resolving to a receipt (null when there was no such session). */
  revoke(subject: string, handle: string, options: ReceiptOptions): Promise<RevocationReceipt | null>;
}

export function receiptFor(marks: readonly LogMark[], options: ReceiptOptions, ended: number | null): Promise<RevocationReceipt> {
  return awaitReceipt(marks, toMs(options.wait ?? '2s', 'wait'), ended);
}

export interface SessionLimit {
  readonly max: number;
  readonly onLimit: 'revoke-oldest' | 'refuse';
}

export function resolveSessionLimit(max: number | undefined, onLimit: string | undefined): SessionLimit | null {
  if (onLimit !== undefined && onLimit !== 'revoke-oldest' && onLimit !== 'refuse') throw configError("onSessionLimit must be 'revoke-oldest' or 'refuse'");
  if (max === undefined) {
    if (onLimit !== undefined) throw configError('onSessionLimit needs maxSessionsPerSubject');
    return null;
  }
  if (!Number.isInteger(max) || max < 1 || max > MAX_SESSIONS_PER_SUBJECT) {
    throw configError(`maxSessionsPerSubject must be an integer from 1 to ${MAX_SESSIONS_PER_SUBJECT}`);
  }
  return { max, onLimit: onLimit ?? 'revoke-oldest' };
}

/** One directory per shared session state (a store's repository), so a subject's session is listed once. */
function directories(setup: Setup): SessionDirectory[] {
  const seen = new Set<SessionDirectory>();
  for (const s of [...setup.strategies, ...setup.legacy]) if (s.sessions !== undefined) seen.add(s.sessions);
  if (seen.size === 0) {
    throw new NotSupportedError('listing sessions needs server-side state: statefulJwt({ store }), sessionCookie({ store }), sessionCookie({ store: cookieStore(), revocation: store }) or statelessJwt({ store })');
  }
  return [...seen];
}

async function listed(setup: Setup, subject: string): Promise<{ directory: SessionDirectory; session: ListedSession }[]> {
  const all = await Promise.all(directories(setup).map(async (directory) => (await directory.list(subject)).map((session) => ({ directory, session }))));
  return all.flat().sort((a, b) => a.session.info.createdAt.getTime() - b.session.info.createdAt.getTime());
}

function eventOf(subject: string, info: SessionInfo): SessionEvent {
  return { subject, handle: info.handle, strategy: info.strategy, device: info.device, address: info.address };
}

/** Ends one listed session; resolves to where its end went in shared logs, or null when it was already gone. */
async function end(setup: Setup, subject: string, entry: { directory: SessionDirectory; session: ListedSession }, reason: SessionRevokedReason): Promise<readonly LogMark[] | null> {
  const gone = await entry.directory.revokeHandle(subject, entry.session.info.handle);
  if (gone !== null) setup.events.emit('sessionRevoked', { ...eventOf(subject, gone.info), reason });
  return gone?.marks ?? null;
}

async function revokeOne(setup: Setup, subject: string, handle: string): Promise<readonly LogMark[] | null> {
  const entry = (await listed(setup, subject)).find((e) => e.session.info.handle === handle);
  return entry === undefined ? null : end(setup, subject, entry, 'revoked');
}

export function sessionsAdmin(setup: Setup): SessionsAdmin {
  async function revoke(subject: string, handle: string, options?: ReceiptOptions): Promise<boolean | RevocationReceipt | null> {
    const marks = await revokeOne(setup, subject, handle);
    if (options?.receipt !== true) return marks !== null;
    return marks === null ? null : receiptFor(marks, options, 1);
  }
  return {
    list: async (subject) => (await listed(setup, subject)).map((e) => e.session.info),
    revoke: revoke as SessionsAdmin['revoke'],
  };
}

/**
 * The handles this principal may stand for, one per directory that claims it. Two strategies may share a name
 * (sessionCookie stored or sealed): a handle named for the other one matches no listed session, so it marks nothing.
 */
function currentHandles(setup: Setup, who: Principal): Set<string> {
  const handles = new Set<string>();
  for (const directory of directories(setup)) {
    const handle = directory.handleOf(who);
    if (handle !== null) handles.add(handle);
  }
  return handles;
}

function caller(req: Request): Principal {
  const who = req.principal;
  if (who === null || who === undefined) throw new AuthRequiredError();
  return who;
}

/** `req.auth.sessions()`: the caller's own sessions, the one making the request marked `current`. */
export async function ownSessions(setup: Setup, req: Request): Promise<SessionInfo[]> {
  const who = caller(req);
  const current = currentHandles(setup, who);
  return (await listed(setup, who.id)).map(({ session: { info } }) => (current.has(info.handle) ? Object.freeze({ ...info, current: true }) : info));
}

/** `req.auth.revokeSession(handle)`: only one of the caller's own sessions (another subject's handle matches nothing). */
export async function revokeOwn(setup: Setup, req: Request, handle: string): Promise<boolean> {
  return (await revokeOne(setup, caller(req).id, handle)) !== null;
}

/** Ends every session of `subject` except the ones with a handle in `keep`. */
export async function revokeOthers(setup: Setup, subject: string, keep: ReadonlySet<string>): Promise<{ ended: number; marks: LogMark[] }> {
  const others = (await listed(setup, subject)).filter((e) => !keep.has(e.session.info.handle));
  const ended = (await Promise.all(others.map((e) => end(setup, subject, e, 'others')))).filter((m) => m !== null);
  return { ended: ended.length, marks: ended.flat() };
}

/** "Log out other devices": resolves to how many ended, or with `{ receipt: true }` to a receipt. */
export async function logoutOthers(setup: Setup, req: Request, options?: ReceiptOptions): Promise<number | RevocationReceipt> {
  const who = caller(req);
  const { ended, marks } = await revokeOthers(setup, who.id, currentHandles(setup, who));
  return options?.receipt === true ? receiptFor(marks, options, ended) : ended;
}

/** Before a login: with `onSessionLimit: 'refuse'`, a subject at the limit gets 409 and nothing is written. */
export async function admitLogin(setup: Setup, issuer: StrategyImpl, subject: string): Promise<void> {
  const limit = setup.sessionLimit;
  if (limit === null || limit.onLimit !== 'refuse' || issuer.sessions === undefined) return;
  if ((await listed(setup, subject)).length >= limit.max) throw new SessionLimitError(limit.max);
}

/** After a login: tell listeners, and with `revoke-oldest` end the oldest sessions beyond the limit. */
export async function afterLogin(setup: Setup, issuer: StrategyImpl, subject: string, handle: string | undefined): Promise<string | null> {
  if (issuer.sessions === undefined || handle === undefined) return null;
  const wantsList = setup.sessionLimit !== null || setup.events.listenerCount('sessionCreated') > 0;
  if (!wantsList) return handle;
  const all = await listed(setup, subject);
  const mine = all.find((e) => e.session.info.handle === handle);
  if (mine !== undefined) setup.events.emit('sessionCreated', eventOf(subject, mine.session.info));
  const limit = setup.sessionLimit;
  if (limit === null || all.length <= limit.max) return handle;
  const excess = all.filter((e) => e !== mine).slice(0, all.length - limit.max);
  if (limit.onLimit === 'refuse') return handle;
  await Promise.all(excess.map((e) => end(setup, subject, e, 'limit')));
  return handle;
}
