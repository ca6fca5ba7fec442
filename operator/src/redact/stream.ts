import { PEM_BEGIN, PEM_CONTINUES, PEM_END_LINE, PEM_ENTERS, PEM_OPEN_TAIL } from './rules.ts';
import { isYamlish, K8S_WINDOW_LINES, marker, redactText } from './redact.ts';

// Bytes are decoded as latin1: one char per byte, so any input (binary included) round-trips byte
// for byte, and every detector only looks for ASCII. UTF-8 text is seen as runs of chars >= 0x80,
// which no detector treats as part of a secret or as whitespace.

/** Batches of about this size go through redactText at once, amortising its per-call prefilters. */
const BATCH = 1024 * 1024;
/** An open PEM block (or k8s Secret window) is held back at most this much past a batch. */
const HOLD_CAP = 64 * 1024;
/** A line longer than this is cut (at a blank when possible) to keep memory bounded. */
const MAX_LINE = 1024 * 1024;

const yamlish = (line: string) => !line.startsWith('---') && isYamlish(line);
const K8S_KIND = /^kind:[ \t]*["']?Secret["']?[ \t]*\r?$/;

function stripEol(line: string): string {
  return line.endsWith('\n') ? line.slice(0, line.endsWith('\r\n') ? -2 : -1) : line;
}

/** Whether a private-key block opened on this line is still open at its end. */
function opensPem(content: string): boolean {
  let last = -1;
  let len = 0;
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(content); m; m = PEM_BEGIN.exec(content)) {
    last = m.index;
    len = m[0].length;
  }
  if (last < 0) return false;
  return PEM_OPEN_TAIL.test(content.slice(last + len));
}

class Redactor {
  private batch: string[] = [];
  private batchLen = 0;
  private pemOpen = false;
  private k8sLeft = 0;
  private prevYaml = false;
  /** Set after a forced flush inside a PEM block: the marker is out, the rest of the body is dropped. */
  private swallow = false;
  private pendingTail = '';
  private pendingBlanks: string[] = [];

  constructor(
    private readonly emit: (s: string) => void,
    private readonly batchBytes: number,
    private readonly holdBytes: number,
  ) {}

  line(line: string): void {
    if (this.swallow && this.swallowLine(line)) return;
    const content = stripEol(line);
    let safe = true;
    const wasOpen = this.pemOpen;
    if (this.pemOpen) {
      if (PEM_END_LINE.test(content)) {
        safe = false;
        this.pemOpen = false;
      } else if (PEM_ENTERS.test(content)) {
        safe = false;
        this.pemOpen = PEM_CONTINUES.test(content);
      } else this.pemOpen = false;
    }
    const yaml = yamlish(content);
    // Never cut inside a run of YAML lines: a Secret's `data:` may come before its `kind:`.
    if (yaml && this.prevYaml) safe = false;
    this.prevYaml = yaml;
    if (this.k8sLeft > 0) {
      if (/^(?:---|kind:)/.test(content)) this.k8sLeft = 0;
      else {
        safe = false;
        this.k8sLeft--;
      }
    }
    if (safe && this.batchLen >= this.batchBytes) this.flush();
    else if (!safe && this.batchLen >= this.batchBytes + this.holdBytes) {
      this.forceFlush(wasOpen);
      if (this.swallow && this.swallowLine(line)) return;
    }
    this.batch.push(line);
    this.batchLen += line.length;
    if (!this.pemOpen && opensPem(content)) this.pemOpen = true;
    if (K8S_KIND.test(content)) this.k8sLeft = 2 * K8S_WINDOW_LINES;
  }

  /**
   * A run of complete lines. Without a key block or Secret manifest in play, its end is a safe cut,
   * so it joins the batch whole; per-line bookkeeping only runs where it can matter.
   */
  lines(text: string): void {
    if (
      !this.pemOpen &&
      !this.swallow &&
      this.k8sLeft === 0 &&
      !text.includes('PRIVATE KEY') &&
      !text.includes('kind:')
    ) {
      const first = text.slice(0, text.indexOf('\n') + 1 || text.length);
      const split = this.prevYaml && yamlish(stripEol(first));
      if ((this.batchLen >= this.batchBytes && !split) || this.batchLen >= this.batchBytes + this.holdBytes)
        this.flush();
      this.batch.push(text);
      this.batchLen += text.length;
      const end = text.endsWith('\n') ? text.length - 1 : text.length;
      this.prevYaml = yamlish(stripEol(text.slice(text.lastIndexOf('\n', end - 1) + 1)));
      return;
    }
    let at = 0;
    for (let nl = text.indexOf('\n', at); nl >= 0; nl = text.indexOf('\n', at)) {
      this.line(text.slice(at, nl + 1));
      at = nl + 1;
    }
    if (at < text.length) this.line(text.slice(at));
  }

  /** Returns true when the line was consumed as the tail of an already-emitted key block. */
  private swallowLine(line: string): boolean {
    const content = stripEol(line);
    const eol = line.slice(content.length);
    const end = PEM_END_LINE.exec(content);
    if (end) {
      this.swallow = false;
      this.pendingTail = '';
      this.pendingBlanks = [];
      this.pemOpen = false;
      this.line(content.slice(end[0].length) + eol);
      return true;
    }
    const enters = PEM_ENTERS.exec(content);
    if (enters && PEM_CONTINUES.test(content)) {
      if (content.trim() === '') this.pendingBlanks.push(line);
      else {
        this.pendingBlanks = [];
        this.pendingTail = eol;
      }
      return true;
    }
    this.swallow = false;
    this.pemOpen = false;
    const consumed = enters ? enters[1]!.trimEnd().length : 0;
    if (consumed > 0) {
      this.pendingBlanks = [];
      this.pendingTail = '';
      this.line(line.slice(consumed));
      return true;
    }
    this.emit(this.pendingTail + this.pendingBlanks.join(''));
    this.pendingTail = '';
    this.pendingBlanks = [];
    return false;
  }

  flush(): void {
    if (this.batchLen === 0) return;
    const text = this.batch.join('');
    this.batch = [];
    this.batchLen = 0;
    this.emit(redactText(text));
  }

  /** The hold-back cap was reached: redact what we have, even mid-block. */
  private forceFlush(inPem: boolean): void {
    const text = this.batch.join('');
    this.batch = [];
    this.batchLen = 0;
    const out = redactText(text);
    if (inPem && out.trimEnd().endsWith(marker('private-key'))) {
      const body = out.trimEnd();
      this.emit(body);
      this.pendingTail = out.slice(body.length);
      this.swallow = true;
    } else this.emit(out);
    this.pemOpen = false;
    this.k8sLeft = 0;
  }

  end(): void {
    this.flush();
    if (this.swallow) this.emit(this.pendingTail + this.pendingBlanks.join(''));
  }
}

/**
 * Redacts a byte stream of any size in bounded memory (about BATCH + HOLD_CAP + MAX_LINE). Output
 * equals redactText on the whole input except when a construct outgrows the caps (a key block over
 * 64 KiB is still redacted; a line over 1 MiB is split, which may split a secret on it).
 */
export interface StreamOptions {
  /** Lines are redacted in batches of about this many bytes (tests make it tiny to force cuts). */
  batchBytes?: number;
  /** How far past a batch an open key block or Secret manifest is held back. */
  holdBytes?: number;
}

export async function redactStream(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: StreamOptions = {},
): Promise<void> {
  const write = async (s: string) => {
    if (s.length === 0) return;
    if (!output.write(Buffer.from(s, 'latin1')))
      await new Promise<void>((r) => output.once('drain', () => r()));
  };
  const queue: string[] = [];
  const redactor = new Redactor(
    (s) => queue.push(s),
    options.batchBytes ?? BATCH,
    options.holdBytes ?? HOLD_CAP,
  );
  let carry = '';
  for await (const chunk of input) {
    const piece =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8').toString('latin1')
        : (chunk as Buffer).toString('latin1');
    let text = carry + piece;
    const last = text.lastIndexOf('\n');
    if (last >= 0) {
      redactor.lines(text.slice(0, last + 1));
      text = text.slice(last + 1);
    }
    while (text.length > MAX_LINE) {
      const blank = text.lastIndexOf(' ', MAX_LINE);
      const cut = blank > MAX_LINE / 2 ? blank + 1 : MAX_LINE;
      redactor.line(text.slice(0, cut));
      text = text.slice(cut);
    }
    carry = text;
    for (const s of queue.splice(0)) await write(s);
  }
  if (carry.length > 0) redactor.line(carry);
  redactor.end();
  for (const s of queue.splice(0)) await write(s);
}
