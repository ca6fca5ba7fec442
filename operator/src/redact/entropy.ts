/** Shannon entropy in bits per character. */
export function shannon(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64ISH = /^[A-Za-z0-9+/=_-]+$/;

/**
 * True for values that look machine-generated. Hex tops out at 4 bits/char, so it gets its own
 * threshold; the base64 test also wants two character classes so long English-ish words fail.
 */
export function looksHighEntropy(value: string): boolean {
  if (value.length < 20) return false;
  if (HEX.test(value)) return shannon(value) >= 3.0;
  if (!BASE64ISH.test(value)) return false;
  const classes = Number(/[a-z]/.test(value)) + Number(/[A-Z]/.test(value)) + Number(/[0-9]/.test(value));
  return classes >= 2 && shannon(value) >= 3.6;
}
