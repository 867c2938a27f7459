import type { Request } from 'express';
import type { PrincipalEvents, PrincipalOptions } from './principal';
import { strategyImpl, type StrategyImpl } from './strategy';
import { configError } from './errors';
import { Listeners } from './listeners';
import { DEFAULT_MAX_CREDENTIAL_BYTES } from './carriers/header';
import { crossSiteError, isCrossSite, trustedOriginSet } from './carriers/csrf';
import { resolveHierarchy } from './roles';
import { freshness, type Freshness } from './freshness';
import { checkPrecedence, type Precedence } from './multi';
import { checkMigrateFrom } from './migration';
import { checkOptions } from './option-keys';
import { devicePolicy, type DevicePolicy } from './state/device';
import { resolveSessionLimit, type SessionLimit } from './sessions';

/** A `principal()` middleware's configuration, validated once: everything its requests and admin calls read. */
export interface Setup {
  readonly strategies: readonly StrategyImpl[];
  /** Issues credentials (`req.auth.login()`), and handles logouts no strategy claimed. */
  readonly primary: StrategyImpl;
  /** `migrateFrom`: accepted, then replaced by a credential of the primary strategy. */
  readonly legacy: readonly StrategyImpl[];
  readonly precedence: Precedence;
  readonly onError: 'respond' | 'next';
  readonly maxBytes: number;
  readonly trusted: ReadonlySet<string>;
  readonly effectiveRoles: (roles: readonly string[]) => ReadonlySet<string>;
  readonly realm: string;
  readonly acceptsHeader: boolean;
  readonly usesCookie: boolean;
  readonly events: Listeners<PrincipalEvents>;
  readonly fresh: Freshness | null;
  /** One strategy, no migration, no rehydration: a request is answered by that strategy alone (synchronously when it can). */
  readonly direct: boolean;
  readonly devices: DevicePolicy;
  readonly sessionLimit: SessionLimit | null;
}

export function resolveSetup(options: PrincipalOptions): Setup {
  checkOptions('principal', options);
  const given = Array.isArray(options?.strategy) ? options.strategy : options?.strategy ? [options.strategy] : [];
  // The one place the opaque strategies users hold become the hooks they are.
  const strategies = given.map(strategyImpl);
  if (strategies.length === 0 || !strategies.every((s): s is StrategyImpl => s !== null)) {
    throw configError('principal() needs `strategy`: statelessJwt(...), statefulJwt(...) or sessionCookie(...) (or a list of them)');
  }
  const onError = options.onError ?? 'respond';
  if (onError !== 'respond' && onError !== 'next') throw configError("onError must be 'respond' or 'next'");
  const legacy = [...checkMigrateFrom(options.migrateFrom, strategies), ...ownMigrations(strategies)];
  const events = new Listeners<PrincipalEvents>();
  const fresh = options.refreshPrincipal === undefined ? null : freshness(options.refreshPrincipal, {
    rehydrated: (e) => events.emit('rehydrated', e),
    revoked: (subject, reason) => events.emit('revoked', subject, reason),
  });
  return {
    strategies, primary: strategies[0] as StrategyImpl, legacy, precedence: checkPrecedence(options.precedence), onError,
    maxBytes: options.maxCredentialBytes ?? DEFAULT_MAX_CREDENTIAL_BYTES,
    trusted: trustedOriginSet(options.trustedOrigins),
    effectiveRoles: resolveHierarchy(options.roleHierarchy),
    realm: options.realm ?? 'api',
    acceptsHeader: strategies.some((s) => s.carriers.includes('header')),
    usesCookie: strategies.some((s) => s.carriers.includes('cookie')),
    events, fresh,
    direct: strategies.length === 1 && legacy.length === 0 && fresh === null,
    devices: devicePolicy(options.devices),
    sessionLimit: resolveSessionLimit(options.maxSessionsPerSubject, options.onSessionLimit),
  };
}

/** Sources a strategy brings itself (sessionCookie's `legacy`): only the first strategy issues, so only it may. */
function ownMigrations(strategies: readonly StrategyImpl[]): StrategyImpl[] {
  if (strategies.slice(1).some((s) => (s.migratesFrom?.length ?? 0) > 0)) {
    throw configError('a sessionCookie with `legacy` must be the first strategy: old sessions move to the strategy that issues credentials');
  }
  return [...(strategies[0]?.migratesFrom ?? [])];
}

/** A cookie sent by another site's form is ambient authority, not intent. */
export function refuseCrossSite(setup: Setup, req: Request): void {
  if (setup.usesCookie && isCrossSite(req, setup.trusted)) throw crossSiteError(req);
}
