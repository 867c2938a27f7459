/**
 * A write for state several writers share (a subject's "revoked before" mark, the revocation log's retention):
 * the key keeps the larger of the held and the given number, and its TTL only ever grows. Each writer passes the
 * TTL it needs, and whichever writes last cannot shorten what an earlier one needed. Numbers are compared as
 * numbers but stored as the writer's own string (Lua would print large ones in exponent form).
 * KEYS[1]: the key; ARGV[1]: the number; ARGV[2]: the TTL in ms it must live at least.
 */
export const SET_MAX = `
local held = redis.call('GET', KEYS[1])
local value = ARGV[1]
if held and tonumber(held) and tonumber(held) > tonumber(value) then value = held end
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], value, 'PX', ttl)
return value`;
