import { createHash, hash as oneShotHash } from 'node:crypto';
import { VaultError } from './errors.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** What JSON.stringify would escape or has to check: quote, backslash, control characters, surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * A JSON string literal, byte for byte what JSON.stringify gives; most strings need no escaping, and
 * the test for that is cheaper than JSON.stringify itself.
 */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Payloads repeat a few key names; their encoded form is looked up instead of escaped again. */
const keyJson = new Map<string, string>();
const MAX_CACHED_KEYS = 4096;

function encodedKey(key: string): string {
  let out = keyJson.get(key);
  if (out === undefined) {
    out = jsonString(key);
    if (keyJson.size < MAX_CACHED_KEYS) keyJson.set(key, out);
  }
  return out;
}

/**
 * Sorts by UTF-16 code unit, as Array.prototype.sort does for strings. Payloads have a handful of keys, and
 * an insertion sort of those measured ~5x faster than the built-in sort, whose default comparator is generic.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 32) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
}

/**
 * Deterministic JSON: object keys sorted by UTF-16 code unit, no whitespace, strings escaped the way
 * JSON.stringify does (well-formed output even for lone surrogates). Non-finite numbers, undefined,
 * bigint, functions and symbols are rejected rather than silently dropped, so the bytes hashed are
 * exactly the bytes stored.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new VaultError('BAD_EVENT', `Payload holds a non-finite number.`);
      // Number-to-string is what JSON.stringify uses for finite numbers (-0 becomes 0 in both).
      return '' + value;
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(value[i]);
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null)
        throw new VaultError('BAD_EVENT', 'Payload holds a value that is not plain JSON data.');
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      // Callers mostly build payloads in a fixed order; sort only when that order is not already sorted.
      for (let i = 1; i < keys.length; i++)
        if (keys[i - 1]! > keys[i]!) {
          sortKeys(keys);
          break;
        }
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        out += (i > 0 ? ',' : '') + encodedKey(key) + ':' + canonicalJson(record[key]);
      }
      return out + '}';
    }
    default:
      throw new VaultError('BAD_EVENT', `Payload holds a ${typeof value}, which JSON cannot carry.`);
  }
}

export interface ChainFields {
  seq: number;
  id: string;
  sessionId: string;
  type: string;
  at: string;
  prevHash: string;
}

/**
 * The hash input is the canonical JSON array [seq, id, session_id, type, at, payload, prev_hash] with the
 * payload embedded as the canonical JSON it is stored as. Taking the payload as bytes lets verification hash
 * the stored column directly (no re-parse) and makes any byte change in it visible.
 */
export function eventHash(fields: ChainFields, payload: string | Uint8Array): string {
  const head =
    '[' +
    fields.seq +
    ',' +
    jsonString(fields.id) +
    ',' +
    jsonString(fields.sessionId) +
    ',' +
    jsonString(fields.type) +
    ',' +
    jsonString(fields.at) +
    ',';
  const tail = ',' + jsonString(fields.prevHash) + ']';
  if (typeof payload === 'string') return encodedEventHash(head, payload, tail);
  return createHash('sha256').update(head).update(payload).update(tail).digest('hex');
}

/**
 * The same hash from its parts already encoded: `head` is `[seq,id,session,type,at,` and `tail` is
 * `,prev_hash]`. The append path builds them from values it knows need no escaping. One string through
 * the one-shot crypto.hash measured ~2x faster per row than a createHash object.
 */
export function encodedEventHash(head: string, payload: string, tail: string): string {
  return oneShotHash('sha256', head + payload + tail, 'hex');
}
