/**
 * A compact set of revoked jtis with expiries, for the jtis express-principal issues: 22 base64url characters
 * (16 random bytes). Each is held as four 32-bit words plus a 32-bit expiry in typed arrays (open addressing,
 * linear probing, backward-shift deletion): about 20 bytes a slot and no per-entry JS object, so a million
 * revocations take tens of megabytes instead of the ~80 bytes an entry a Map of strings costs.
 * Anything else (foreign jtis, longer session ids) goes to the caller's general-purpose map.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const MIN_CAPACITY = 1024;
const MAX_LOAD = 0.7;

export class CompactJtiSet {
  private capacity = MIN_CAPACITY;
  private keys = new Uint32Array(MIN_CAPACITY * 4);
  /** Expiry in seconds since `base`, plus one; 0 marks an empty slot. */
  private exps = new Uint32Array(MIN_CAPACITY);
  private count = 0;
  private readonly word = new Uint32Array(4);
  private readonly sextets = new Uint8Array(22);

  constructor(private readonly base: number) {}

  get size(): number {
    return this.count;
  }

  /** Decodes a canonical 22-character base64url string of 16 bytes into `this.word`; false for anything else. */
  private decode(jti: string): boolean {
    if (jti.length !== 22) return false;
    const v = this.sextets;
    for (let i = 0; i < 22; i++) {
      const c = jti.charCodeAt(i);
      const d = c < 128 ? (DECODE[c] as number) : -1;
      if (d < 0) return false;
      v[i] = d;
    }
    const v21 = v[21] as number;
    if ((v21 & 0x0f) !== 0) return false; // non-canonical: the last 4 bits must be zero
    const w = this.word;
    // 22 sextets = 132 bits: four 32-bit words and 4 zero bits.
    w[0] = ((v[0] as number) << 26) | ((v[1] as number) << 20) | ((v[2] as number) << 14) | ((v[3] as number) << 8) | ((v[4] as number) << 2) | ((v[5] as number) >> 4);
    w[1] = (((v[5] as number) & 15) << 28) | ((v[6] as number) << 22) | ((v[7] as number) << 16) | ((v[8] as number) << 10) | ((v[9] as number) << 4) | ((v[10] as number) >> 2);
    w[2] = (((v[10] as number) & 3) << 30) | ((v[11] as number) << 24) | ((v[12] as number) << 18) | ((v[13] as number) << 12) | ((v[14] as number) << 6) | (v[15] as number);
    w[3] = ((v[16] as number) << 26) | ((v[17] as number) << 20) | ((v[18] as number) << 14) | ((v[19] as number) << 8) | ((v[20] as number) << 2) | (v21 >> 4);
    return true;
  }

  private slotOf(): number {
    const w = this.word;
    let h = Math.imul((w[0] as number) ^ Math.imul(w[1] as number, 0x9e3779b1), 0x85ebca6b);
    h ^= Math.imul((w[2] as number) ^ (w[3] as number), 0xc2b2ae35);
    h ^= h >>> 16;
    return h & (this.capacity - 1);
  }

  private find(): number {
    const mask = this.capacity - 1;
    const w = this.word;
    for (let i = this.slotOf(); ; i = (i + 1) & mask) {
      if (this.exps[i] === 0) return -1 - i;
      const k = i * 4;
      if (this.keys[k] === w[0] && this.keys[k + 1] === w[1] && this.keys[k + 2] === w[2] && this.keys[k + 3] === w[3]) return i;
    }
  }

  /** Whether `jti` fits this set at all (canonical 16-byte base64url). */
  accepts(jti: string): boolean {
    return this.decode(jti);
  }

  has(jti: string): boolean {
    return this.decode(jti) && this.find() >= 0;
  }

  /** Adds or extends; `expSec` is epoch seconds. Returns false if the jti does not fit (caller stores it elsewhere). */
  add(jti: string, expSec: number): boolean {
    if (!this.decode(jti)) return false;
    const rel = Math.max(1, expSec - this.base + 1);
    const at = this.find();
    if (at >= 0) {
      if ((this.exps[at] as number) < rel) this.exps[at] = rel;
      return true;
    }
    if ((this.count + 1) > this.capacity * MAX_LOAD) {
      this.resize(this.capacity * 2);
      return this.add(jti, expSec);
    }
    const slot = -1 - at;
    this.keys.set(this.word, slot * 4);
    this.exps[slot] = rel;
    this.count++;
    return true;
  }

  /** Drops every entry that expired at or before `nowSec` (epoch seconds); shrinks when mostly empty. */
  sweep(nowSec: number): void {
    if (this.count === 0) return;
    const limit = nowSec - this.base + 1;
    for (let i = 0; i < this.capacity;) {
      const e = this.exps[i] as number;
      if (e !== 0 && e <= limit) {
        this.deleteAt(i); // an entry may have moved into slot i: look at it again
      } else {
        i++;
      }
    }
    if (this.capacity > MIN_CAPACITY && this.count < this.capacity * 0.15) this.resize(Math.max(MIN_CAPACITY, this.capacity / 2));
  }

  private deleteAt(hole: number): void {
    const mask = this.capacity - 1;
    this.exps[hole] = 0;
    this.count--;
    // Backward shift: move later members of the probe run into the hole when their home allows it.
    for (let j = (hole + 1) & mask; this.exps[j] !== 0; j = (j + 1) & mask) {
      this.word.set(this.keys.subarray(j * 4, j * 4 + 4));
      const home = this.slotOf();
      const fits = hole <= j ? home <= hole || home > j : home <= hole && home > j;
      if (fits) {
        this.keys.copyWithin(hole * 4, j * 4, j * 4 + 4);
        this.exps[hole] = this.exps[j] as number;
        this.exps[j] = 0;
        hole = j;
      }
    }
  }

  private resize(capacity: number): void {
    const keys = this.keys;
    const exps = this.exps;
    const old = this.capacity;
    this.capacity = capacity;
    this.keys = new Uint32Array(capacity * 4);
    this.exps = new Uint32Array(capacity);
    for (let i = 0; i < old; i++) {
      const e = exps[i] as number;
      if (e === 0) continue;
      this.word.set(keys.subarray(i * 4, i * 4 + 4));
      const at = this.find();
      const slot = -1 - at;
      this.keys.set(this.word, slot * 4);
      this.exps[slot] = e;
    }
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.keys.byteLength + this.exps.byteLength;
  }
}
