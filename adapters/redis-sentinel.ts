/** Stable `code` of the warning emitted when a redisStore's client cannot open a connection of the store's own. */
export const REDIS_NO_OWN_CONNECTION = 'EXPRESS_PRINCIPAL_REDIS_NO_OWN_CONNECTION';

/**
 * The revocation and invalidation logs are followed on a connection of the store's own, which a client without
 * `duplicate()` (node-redis `createSentinel()`) cannot give. Said once at start-up: without it every stateless
 * request asks Redis whether its token was revoked, and `recordCache` stays off.
 */
export function warnNoOwnConnection(): void {
  process.emitWarning(
    'express-principal: redisStore: this Redis client has no duplicate() (node-redis createSentinel() has none), so the '
    + 'revocation log follower and recordCache are off: every statelessJwt request reads its revocation marks from Redis and '
    + 'every stored session is read from Redis. An ioredis client with `sentinels` keeps both.',
    { type: 'ExpressPrincipalWarning', code: REDIS_NO_OWN_CONNECTION },
  );
}
