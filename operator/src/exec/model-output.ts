import { findSecrets, marker, type SecretSpan } from '../redact/redact.ts';

/** Output beyond this many bytes reaches the model as its head and tail around a marker. */
export const MODEL_LIMIT = 100 * 1024;
const HEAD = MODEL_LIMIT / 2;
const TAIL = MODEL_LIMIT / 2;
/**
 * Each kept window is redacted with this much more text past its cut, so a secret straddling the cut is
 * seen whole, and the cut moves to its edge: never half a secret, never half a marker.
 */
const MARGIN = 16 * 1024;
const HEAD_CAPACITY = MODEL_LIMIT + 2 * MARGIN;
const TAIL_CAPACITY = TAIL + MARGIN;

/** The first and last bytes of an output of any size, in bounded memory. */
export class OutputWindows {
  private readonly head = Buffer.alloc(HEAD_CAPACITY);
  private headLength = 0;
  private readonly ring = Buffer.alloc(TAIL_CAPACITY);
  private ringEnd = 0;
  total = 0;

  add(data: Buffer): void {
    this.total += data.length;
    if (this.headLength < HEAD_CAPACITY) this.headLength += data.copy(this.head, this.headLength);
    const tail = data.length > TAIL_CAPACITY ? data.subarray(data.length - TAIL_CAPACITY) : data;
    const first = tail.copy(this.ring, this.ringEnd);
    if (first < tail.length) tail.copy(this.ring, 0, first);
    this.ringEnd = (this.ringEnd + tail.length) % TAIL_CAPACITY;
  }

  private tailBytes(): Buffer {
    const n = Math.min(this.total, TAIL_CAPACITY);
    if (this.total < TAIL_CAPACITY) return this.ring.subarray(0, n);
    return Buffer.concat([this.ring.subarray(this.ringEnd), this.ring.subarray(0, this.ringEnd)]);
  }

  /** What the model may see: redacted, cut head and tail above MODEL_LIMIT, a note instead of binary. */
  render(meta: { sha256: string; executionId: string }): string {
    const total = this.total;
    if (total === 0) return '';
    const binary = () => `[binary output: ${total} bytes, sha256 ${meta.sha256}]`;
    const cutNote = (omitted: number) =>
      `\n[… ${omitted} bytes left out here; the whole output (${total} bytes, sha256 ${meta.sha256}) is kept on the host in the audit vault, execution ${meta.executionId} …]\n`;
    if (total <= HEAD_CAPACITY) {
      const whole = new Window(this.head.subarray(0, total));
      if (whole.binary()) return binary();
      if (total <= MODEL_LIMIT) return whole.text(0, total);
      const headCut = whole.cutAfter(HEAD);
      const tailCut = whole.cutBefore(total - TAIL);
      if (tailCut <= headCut) return whole.text(0, total);
      return whole.text(0, headCut) + cutNote(tailCut - headCut) + whole.text(tailCut, total);
    }
    const head = new Window(this.head.subarray(0, HEAD + MARGIN));
    const tail = new Window(this.tailBytes());
    if (head.binary() || tail.binary()) return binary();
    const headCut = head.cutAfter(HEAD);
    const tailCut = tail.cutBefore(MARGIN);
    const omitted = total - tail.length + tailCut - headCut;
    return head.text(0, headCut) + cutNote(omitted) + tail.text(tailCut, tail.length);
  }
}

/** A run of output bytes, seen by the redactor as latin1 (one char per byte, so offsets are byte offsets). */
class Window {
  private readonly latin1: string;
  private readonly spans: SecretSpan[];

  constructor(private readonly bytes: Buffer) {
    this.latin1 = bytes.toString('latin1');
    this.spans = findSecrets(this.latin1);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** NUL bytes, or more than 1% of the text not being UTF-8. */
  binary(): boolean {
    if (this.bytes.includes(0)) return true;
    const text = this.bytes.toString('utf8');
    let bad = 0;
    for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) bad++;
    return bad > 0 && bad * 100 > text.length;
  }

  /** Moves a cut off UTF-8 continuation bytes so no character is split. */
  private align(at: number): number {
    let i = at;
    while (i > 0 && at - i < 3 && (this.bytes[i]! & 0xc0) === 0x80) i--;
    return (this.bytes[i]! & 0xc0) === 0x80 ? at : i;
  }

  /** A cut that keeps a straddling secret before it (shown as its marker). */
  cutAfter(at: number): number {
    const cut = this.align(at);
    const s = this.spans.find((x) => x.start < cut && cut < x.end);
    return s ? s.end : cut;
  }

  /** A cut that keeps a straddling secret after it; one reaching back past the window start is dropped. */
  cutBefore(at: number): number {
    const cut = this.align(at);
    const s = this.spans.find((x) => x.start < cut && cut < x.end);
    if (!s) return cut;
    return s.start > 0 ? s.start : s.end;
  }

  /** Bytes [from, to) with every secret overlapping them replaced by its marker, decoded as UTF-8. */
  text(from: number, to: number): string {
    let out = '';
    let at = from;
    for (const s of this.spans) {
      if (s.end <= from || s.start >= to) continue;
      out += this.latin1.slice(at, Math.max(s.start, from)) + marker(s.kind);
      at = Math.min(s.end, to);
    }
    out += this.latin1.slice(at, to);
    return Buffer.from(out, 'latin1').toString('utf8');
  }
}
