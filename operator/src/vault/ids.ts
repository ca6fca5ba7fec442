import { randomBytes } from 'node:crypto';

// Event ids are UUIDv7 (time-ordered): the UNIQUE index on events.id then grows at its right edge instead
// of taking random B-tree inserts, which measured ~4x faster for batched appends than random v4 ids.
let lastMs = 0;
let counter = 0;
let prefix = '';
let pool = '';
let poolAt = 0;
const COUNTER_HEX = Array.from({ length: 0x1000 }, (_, i) => i.toString(16).padStart(3, '0'));
const VARIANT = '89ab89ab89ab89ab';

export function eventId(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
    prefix = '';
  } else if (++counter > 0xfff) {
    // Same (or backwards) clock: the 12-bit counter keeps ids increasing; on overflow borrow the next ms.
    counter = 0;
    lastMs++;
    prefix = '';
  }
  if (prefix === '') {
    const t = lastMs.toString(16).padStart(12, '0');
    prefix = `${t.slice(0, 8)}-${t.slice(8)}-7`;
  }
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(8 * 4096).toString('hex');
    poolAt = 0;
  }
  // The variant nibble from the first random hex digit ('0'-'9' are codes 48-57, 'a'-'f' 97-102), and the
  // counter from a table: both measured a quarter of the id's cost when computed with parseInt and padStart.
  const c = pool.charCodeAt(poolAt);
  const id =
    prefix +
    COUNTER_HEX[counter] +
    '-' +
    VARIANT[c < 58 ? c - 48 : c - 87] +
    pool.slice(poolAt + 1, poolAt + 4) +
    '-' +
    pool.slice(poolAt + 4, poolAt + 16);
  poolAt += 16;
  return id;
}

let isoMs = 0;
let iso = '';

/** The current time as ISO-8601 with ms, cached per millisecond (formatting dominated small appends). */
export function nowIso(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}
