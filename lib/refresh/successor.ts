import { createHash } from 'node:crypto';
import { seal, unseal } from '../envelopes/seal';

/** The key a successor is sealed with: derived from the used token, so only its holder can open the grace-window answer. */
const successorKey = (raw: string) => createHash('sha256').update('ep-refresh-successor\0').update(raw).digest();

export function sealSuccessor(successor: string, raw: string): string {
  return seal(successorKey(raw), successor).toString('base64url');
}

export function unsealSuccessor(sealed: string, raw: string): string | null {
  return unseal(successorKey(raw), Buffer.from(sealed, 'base64url'));
}
