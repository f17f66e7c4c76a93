// MurmurHash3 (x86, 32-bit) over a string's UTF-16 code units, two per 32-bit block: the same
// result as murmur3_32 of the string's UTF-16LE bytes, computed without encoding it. Cheap
// enough for the hot path (a header value costs a few ns per character, no allocation), with
// full avalanche from the finaliser, which is what ring and table placement need. It is not a
// cryptographic hash: a client that chooses its own key can choose its endpoint, as with any
// consistent hash (Envoy uses xxHash64 and the same holds there).
//
// 32 bits are plenty here: ring points and keys only need to spread evenly, and a Maglev
// table (at most 5,000,011 slots) indexes by the hash modulo its size.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

export function hashString(s: string, seed = 0): number {
  let h = seed >>> 0;
  const n = s.length;
  const blocks = n & ~1;
  for (let i = 0; i < blocks; i += 2) {
    let k = (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (n & 1) {
    let k = s.charCodeAt(n - 1);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  // Length in bytes, as murmur3 of the UTF-16LE encoding would use.
  h ^= n * 2;
  return fmix32(h);
}

/** Murmur3's finaliser: every input bit flips each output bit with probability ~1/2. */
export function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
