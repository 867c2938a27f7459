import type { SessionData } from 'express-session';
import { ttlArg, type RedisCommands } from './redis-commands';
import { CallbackSessionStore, sessionTtlSeconds } from './session-store';

type Run = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * express-session's Store on any client of the command layer, in connect-redis's format (the session as JSON
 * at `<prefix>sess:<sid>`, living until its cookie expires), so sessions move between node-redis and ioredis
 * apps on one prefix. ioredis needs it: connect-redis 9 and later take node-redis only.
 */
export function jsonSessionStore(redis: RedisCommands, sessPrefix: string, run: Run): CallbackSessionStore {
  return new CallbackSessionStore({
    get: (sid) => run(async () => {
      const raw = await redis.get(sessPrefix + sid);
      return raw === null || raw === undefined ? null : (JSON.parse(String(raw)) as SessionData);
    }),
    set: (sid, sess) => run(async () => { await redis.setPx(sessPrefix + sid, JSON.stringify(sess), ttlArg(sessionTtlSeconds(sess) * 1000)); }),
    destroy: (sid) => run(async () => { await redis.del(sessPrefix + sid); }),
  });
}
