/**
 * ECDSA signatures are malleable: (r, s) and (r, n - s) both verify. We sign low-s only and
 * refuse high-s, so one token has exactly one valid encoding.
 */
const ORDERS: Record<string, bigint> = {
  ES256: BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551'),
  ES384: BigInt('0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973'),
  ES512: BigInt('0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409'),
};
const SIZES: Record<string, number> = { ES256: 32, ES384: 48, ES512: 66 };

function toBig(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

export function isHighS(alg: string, signature: Buffer): boolean {
  const n = ORDERS[alg];
  const size = SIZES[alg];
  if (n === undefined || size === undefined) return false;
  if (signature.length !== size * 2) return true;
  return toBig(signature.subarray(size)) > n / 2n;
}

/** Rewrites a JOSE (r || s) signature to its low-s form. */
export function toLowS(alg: string, signature: Buffer): Buffer {
  const n = ORDERS[alg];
  const size = SIZES[alg];
  if (n === undefined || size === undefined || !isHighS(alg, signature)) return signature;
  const s = n - toBig(signature.subarray(size));
  const sBytes = Buffer.from(s.toString(16).padStart(size * 2, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, size), sBytes]);
}
