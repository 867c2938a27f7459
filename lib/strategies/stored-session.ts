import type { Request, Response } from 'express';
import type { Authenticated, CarrierKind, Identity, Issued, Presented, Principal, StateStore, StrategyName } from '../types';
import type { StrategyImpl } from '../strategy';
import { InvalidCredentialError } from '../errors';
import { loginAuthTime } from '../auth-time';
import { refuseOversized } from '../carriers/token-carrier';
import type { ResolvedTimeouts } from '../state/session-record';
import type { RecordLayout } from '../state/record-layout';
import type { RecordCacheSetting } from '../state/record-cache';
import { SessionRecords } from '../state/session-records';
import { sessionHandle } from '../state/session-repository';
import type { DeviceFacts } from '../state/device';

/** Where the credential travels (lib/carriers): read once per request, written after a login, cleared at logout. */
export interface SessionCarrier {
  readonly kinds: readonly CarrierKind[];
  /** The credential as presented; throws only a configuration error (see StrategyImpl.find). */
  find(req: Request): Presented | null;
  write(req: Request, res: Response, value: string, ttlMs: number): void;
  clear(res: Response): void;
}

/** The session a credential names: its id, the subject it claims (if it says), and the record key once derived. */
export interface SessionRef {
  readonly sid: string;
  readonly subject: string | null;
  readonly key?: string;
}

/** How the credential is protected (lib/envelopes): a signed JWT, a signed session id, an opaque token… */
export interface SessionEnvelope {
  /** Throws InvalidCredentialError (or answers a rejected promise) for anything not issued by this envelope. */
  open(value: string): SessionRef | Promise<SessionRef>;
  seal(sid: string, subject: string, ttlMs: number): string;
}

export interface StoredSessionParts {
  name: StrategyName;
  carrier: SessionCarrier;
  envelope: SessionEnvelope;
  store: StateStore;
  layout: RecordLayout;
  timeouts: ResolvedTimeouts;
  recordCache?: RecordCacheSetting;
  /** Bytes of randomness in a session id. */
  sidBytes: number;
  /** What else a new record holds besides the session (e.g. express-session's `cookie` field). */
  extra?: () => Readonly<Record<string, unknown>>;
}

/**
 * A point of the grid whose state is a session record: any carrier, any envelope that names a session id, and the
 * store's session-record repository. statefulJwt and sessionCookie are two such points.
 */
export function storedSession(parts: StoredSessionParts): StrategyImpl {
  const { carrier, envelope, timeouts } = parts;
  const records = new SessionRecords(parts.store, parts.layout, { timeouts, recordCache: parts.recordCache, sidBytes: parts.sidBytes });

  function admit(ref: SessionRef, kind: CarrierKind): Authenticated | Promise<Authenticated> {
    if (typeof ref.sid !== 'string' || ref.sid.length === 0 || ref.sid.length > 128) throw new InvalidCredentialError();
    return records.authenticate(ref.sid, ref.subject, kind, ref.key);
  }

  function authenticate(presented: Presented): Authenticated | Promise<Authenticated> {
    refuseOversized(presented);
    records.repository.ensureOnline();
    const ref = envelope.open(presented.value);
    return ref instanceof Promise ? ref.then((r) => admit(r, presented.carrier)) : admit(ref, presented.carrier);
  }

  async function login(req: Request, res: Response, identity: Identity, previous: Principal | null, facts?: DeviceFacts): Promise<Issued> {
    records.repository.ensureOnline();
    // One write; the credential goes out only once the session is stored, so a failed login changes nothing.
    const { sid, record } = await records.create(identity, loginAuthTime(identity, previous), parts.extra?.() ?? null, facts);
    // A new id at every login (no fixation): the session this request came with ends here.
    if (previous !== null && previous.strategy === parts.name && previous.sessionId !== null) await replace(previous, sid);
    const value = envelope.seal(sid, record.id, timeouts.absoluteMs);
    carrier.write(req, res, value, timeouts.absoluteMs);
    return { token: carrier.kinds.includes('header') ? value : null, expiresAt: new Date(record.absExp), sessionId: sid, handle: sessionHandle(parts.layout.prefix + sid) };
  }

  /** If the replaced session cannot be ended, the new one is withdrawn and the login fails. */
  async function replace(previous: Principal, newSid: string): Promise<void> {
    try {
      await records.destroy(previous.sessionId as string, previous.id);
    } catch (err) {
      await records.destroy(newSid, null).catch(() => undefined);
      throw err;
    }
  }

  async function logout(req: Request, res: Response, current: Principal | null): Promise<void> {
    const sid = current?.strategy === parts.name ? current.sessionId : await unverifiedSession(req);
    if (sid !== null) {
      records.repository.ensureOnline();
      await records.destroy(sid, current?.sessionId === sid ? current.id : null);
    }
    carrier.clear(res);
  }

  /** A logout whose credential did not authenticate (expired, unknown): its session, if the envelope vouches for it, still ends. */
  async function unverifiedSession(req: Request): Promise<string | null> {
    const found = carrier.find(req);
    if (found === null) return null;
    try {
      refuseOversized(found);
      return (await envelope.open(found.value)).sid;
    } catch {
      return null;
    }
  }

  return {
    name: parts.name,
    carriers: carrier.kinds,
    find: (req) => carrier.find(req),
    authenticate: (_req, _res, presented) => authenticate(presented),
    login,
    logout,
    revokeAll: async (subject) => (await records.repository.revokeAll(subject)).marks,
    rehydrate: (_req, _res, current, identity) => records.rehydrate(current.sessionId as string, current.id, identity, current.loadedAt.getTime()),
    update: (subject, patch) => records.repository.update(subject, patch),
    sessionState: records.repository,
    sessions: records.repository.directory,
    close: () => records.close(),
  };
}
