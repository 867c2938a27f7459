export { principal } from './principal';
export type { PrincipalOptions, PrincipalMiddleware, PrincipalEvents } from './principal';
export { statelessJwt } from './strategies/stateless-jwt';
export type { StatelessJwtOptions } from './strategies/stateless-jwt';
export { statefulJwt } from './strategies/stateful-jwt';
export type { StatefulJwtOptions } from './strategies/stateful-jwt';
export { sessionCookie } from './strategies/session-cookie';
export type { SessionCookieOptions } from './strategies/session-cookie';
export type { LegacySessionOptions } from './strategies/express-session-legacy';
export { redisStore } from '../adapters/redis';
export { postgresStore } from '../adapters/postgres';
export type { PostgresStoreOptions, PostgresStore, PgPoolLike, PgResult, PgPoolClient } from '../adapters/postgres';
export type { RedisStoreOptions, RedisClientLike, IoRedisClientLike } from '../adapters/redis';
export { memoryStore } from '../adapters/memory';
export type { MemoryStoreOptions } from '../adapters/memory';
export { cookieStore } from '../adapters/cookie';
export type { CookieStoreOptions } from '../adapters/cookie';
export { fromConfig } from './config';
export type { AuthConfig, AuthConfigDeps } from './config';
export { requireAuth, requireRole, requireAnyRole, requireScope, allow, requireFreshLogin } from './guards';
export { handle } from './handle';
export type { RouteHandler } from './handle';
export { authed } from './authed';
export type { AuthedRequest, AuthedHandler } from './authed';
export {
  AuthError, AuthRequiredError, InvalidCredentialError, CredentialExpiredError, CredentialRevokedError,
  CredentialTooLargeError, CredentialConflictError, LoginRequiredError, CsrfError, ForbiddenError,
  InsufficientScopeError, StoreUnavailableError, KeysUnavailableError, NotSupportedError, SessionLimitError,
} from './errors';
export type { SessionsAdmin, SessionEvent, SessionRevokedEvent, SessionRevokedReason, ReceiptOptions } from './sessions';
export type { DeviceOptions, AddressPolicy } from './state/device';
export type { LoginOptions } from './context';
export type { AuthErrorCode, AnyAuthError } from './errors';
export type { AuthContext } from './context';
export type {
  Principal, Identity, Issued, Strategy, StrategyName, CarrierKind, CookieOptions, StateStore, CookieStore, SessionInfo, AnyStore,
} from './types';
export type { JwtAlgorithm, JwtKey, KeyInput } from './envelopes/jwt-keys';
export type { TypSetting } from './strategies/jwt-common';
export type { RecordCacheSetting, RecordCacheOptions } from './state/record-cache';
export type { ClaimMapping } from './claims';
export type { RoleHierarchy } from './roles';
export type { Precedence } from './multi';
export type { MigrationOutcome } from './migration';
export type { JwksOptions, JwksVerifierOptions } from './envelopes/jwks-source';
export { REISSUED_TOKEN_HEADER } from './freshness';
export type { RefreshPrincipalOptions, RehydratedEvent, RefreshedEvent, RevokedReason } from './freshness';
export type { RefreshOptions } from './refresh/refresh-options';
export { RefreshReusedError, LogoutIncompleteError, MalformedRequestError, ListenerError } from './errors';
export type { RevocationLog, RevocationLogListener, RevocationLogFollower, RevocationReceipt, AppliedCount } from './types';
