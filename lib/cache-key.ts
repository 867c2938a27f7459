/**
 * The key under which a credential is cached: its last KEY_CHARS characters.
 *
 * Why not the whole credential: a Map hashes a string key on every lookup, and a credential arrives as a new
 * string with every request, so its hash is never cached. Hashing a whole RS256 token (≈ 600 characters) measured
 * ≈ 1.2 µs per lookup against ≈ 0.2 µs for its last 32, on a request that costs plain Express ≈ 70 µs.
 * The tail of every credential cached here is a MAC, a signature or ciphertext under a random IV, so two
 * credentials sharing it do not occur by chance; and every entry keeps its full credential, a lookup counting as a hit only when that
 * equals the one presented: a forged credential reusing a valid tail is a miss and is verified in full.
 */
const KEY_CHARS = 32;

export function cacheKey(credential: string): string {
  return credential.length <= KEY_CHARS ? credential : credential.slice(-KEY_CHARS);
}
