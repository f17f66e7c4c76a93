// The 1 KB response body every backend serves. Plain ASCII letters so that it can also be
// written inline into nginx's `return 200 "...";` without escaping.
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';
export const BODY_BYTES = 1024;
export const BODY = Array.from(
  { length: BODY_BYTES },
  (_, i) => ALPHABET[i % ALPHABET.length],
).join('');
