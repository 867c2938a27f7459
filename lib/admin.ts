import type { RequestHandler } from 'express';
import type { Identity } from './types';
import type { StrategyImpl } from './strategy';
import { AuthError } from './errors';
import type { Setup } from './setup';
import type { LogMark } from './state/receipts';

type Patch = Partial<Omit<Identity, 'id'>>;

/** One strategy per shared session state: every session of a subject is reached once. */
function distinct(list: readonly StrategyImpl[]): StrategyImpl[] {
  return list.filter((s, i) => s.sessionState === undefined || list.findIndex((t) => t.sessionState === s.sessionState) === i);
}

const notSupported = (err: unknown) => err instanceof AuthError && err.code === 'ERR_NOT_SUPPORTED';

/**
 * "Log out everywhere": every strategy (and migrateFrom one) that can; refused only when none can. Resolves to
 * where the revocation went in shared logs, for a receipt.
 */
export async function revokeAll(setup: Setup, subject: string): Promise<LogMark[]> {
  const all = distinct([...setup.strategies, ...setup.legacy]);
  const marks = await Promise.all(all.map((s) => s.revokeAll(subject).catch((err: unknown) => {
    if (!notSupported(err) || all.length === 1) throw err;
  })));
  setup.events.emit('revoked', subject, 'revokeAll');
  return marks.flatMap((m) => m ?? []);
}

/** Changes every live session of the subject; migrateFrom sessions too (they live on until they move). */
export async function update(setup: Setup, subject: string, patch: Patch): Promise<number> {
  let changed = 0;
  for (const s of distinct([...setup.strategies, ...setup.legacy])) {
    // A stateless migrateFrom strategy has nothing to change.
    const legacy = setup.legacy.includes(s);
    changed += await s.update(subject, patch).catch((err: unknown) => {
      if (legacy && notSupported(err)) return 0;
      throw err;
    });
  }
  return changed;
}

/** Serves the public verification keys (JWT strategies with asymmetric keys) as a JWKS. */
export function jwksHandler(setup: Setup): RequestHandler {
  const source = setup.strategies.find((s) => s.publicJwks !== undefined);
  return (_req, res) => {
    const body = source?.publicJwks?.() ?? { keys: [] };
    res.setHeader('Cache-Control', 'public, max-age=300, stale-while-revalidate=60');
    res.type('application/jwk-set+json').send(JSON.stringify(body));
  };
}

export async function close(setup: Setup): Promise<void> {
  setup.events.clear();
  await Promise.all([...setup.strategies, ...setup.legacy].map((s) => s.close()));
}
