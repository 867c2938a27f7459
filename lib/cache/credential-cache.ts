import { Lru } from './lru';

/**
 * A bounded LRU of values derived from credentials (a verified token, a decrypted cookie, an unsigned session id),
 * keyed by the credential's last KEY_CHARS characters.
 *
 * Why not the whole credential as the key: a Map hashes a string key on every lookup, and a credential arrives as a
 * new string with every request, so its hash is never cached. Hashing a whole RS256 token (≈ 600 characters)
 * measured ≈ 1.2 µs per lookup against ≈ 0.2 µs for its last 32, on a request that costs plain Express ≈ 70 µs.
 * The tail of every credential cached here is a MAC, a signature or ciphertext under a random IV, so two
 * credentials sharing it do not occur by chance; and every entry keeps its full credential, a lookup counting as
 * a hit only when that equals the one presented: a forged credential reusing a valid tail is a miss.
 */
const KEY_CHARS = 32;

const tailOf = (credential: string) => (credential.length <= KEY_CHARS ? credential : credential.slice(-KEY_CHARS));

export class CredentialCache<V> {
  private readonly lru: Lru<{ credential: string; value: V }>;
  constructor(max: number) { this.lru = new Lru(max); }
  get(credential: string): V | undefined {
    const entry = this.lru.get(tailOf(credential));
    return entry !== undefined && entry.credential === credential ? entry.value : undefined;
  }
  set(credential: string, value: V): void { this.lru.set(tailOf(credential), { credential, value }); }
  /** Drops the entry of this exact credential (not another one sharing its tail). */
  delete(credential: string): void {
    if (this.get(credential) !== undefined) this.lru.delete(tailOf(credential));
  }
  clear(): void { this.lru.clear(); }
}
