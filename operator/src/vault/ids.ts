import { randomBytes } from 'node:crypto';

// Event ids are UUIDv7 (time-ordered): the UNIQUE index on events.id then grows at its right edge instead
// of taking random B-tree inserts, which measured ~4x faster for batched appends than random v4 ids.
let lastMs = 0;
let counter = 0;
let prefix = '';
let pool = '';
let poolAt = 0;

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
  const r = pool.slice(poolAt, (poolAt += 16));
  const variant = '89ab'[parseInt(r[0]!, 16) & 3]!;
  return `${prefix}${counter.toString(16).padStart(3, '0')}-${variant}${r.slice(1, 4)}-${r.slice(4, 16)}`;
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
