import { looksHighEntropy } from './entropy.ts';
import { classifyKey, isPath, isPlaceholder, RULES, type KeyClass, type Rule } from './rules.ts';

export interface SecretSpan {
  kind: string;
  start: number;
  end: number;
}

interface Candidate extends SecretSpan {
  priority: number;
}

/** Kinds are few: one flat marker string each, instead of a new concatenation per secret. */
const markers = new Map<string, string>();
export function marker(kind: string): string {
  let m = markers.get(kind);
  if (m === undefined) markers.set(kind, (m = `[REDACTED:${kind}]`));
  return m;
}

/**
 * Most detectors start with a distinctive literal; one combined alternation scans the text once for all of
 * them (about twice as fast as one pass per rule). The scan carries no named groups and no match indices
 * (with dozens of rules those made every match allocate for every group): each rule keeps only its secret
 * group `s`, so which group is set says which rule matched, and since the secret ends the match its
 * position follows from the match's end. At one position an alternation takes its first alternative that
 * matches, and that alternative on its own matches the same, so this equals running the rule alone.
 */
const COMBINED_RULES = RULES.filter((r) => !r.standalone);
const STANDALONE_RULES = RULES.filter((r) => r.standalone);
const secretOnly = (source: string) =>
  source.replace(/\(\?<([A-Za-z][A-Za-z0-9]*)>/g, (_all, name: string) => (name === 's' ? '(' : '(?:'));
const groupCount = (source: string) => new RegExp(`${source}|`).exec('')!.length - 1;
// A regex atom: an escape, a character class, or any other character but a parenthesis; a plain atom
// is not `|` either.
const ATOM = String.raw`(?:\\.|\[(?:\\.|[^\]\\])*\]|[^()\\[])`;
const PLAIN_ATOM = String.raw`(?:\\.|\[(?:\\.|[^\]\\])*\]|[^()\\[|])`;
/**
 * The source is a sequence without top-level alternation (so a match always sets the secret), then
 * `(?<s>...)`, then only lookaheads (they consume nothing, so the secret ends the match).
 */
const SECRET_LAST = new RegExp(
  String.raw`^(?:${PLAIN_ATOM}|\(${ATOM}*\))*(\(\?<s>(?:${ATOM}|\(${ATOM}*\))*\)(?:\(\?[=!]${ATOM}*\))*)$`,
);
/** The capture group number that holds rule i's secret. */
const SECRET_GROUP: number[] = [];
{
  let next = 1;
  for (const r of COMBINED_RULES) {
    const last = SECRET_LAST.exec(r.re.source);
    if (!last)
      throw new Error(`redaction rule ${r.kind} must end with its secret group (?<s>...) or be standalone`);
    SECRET_GROUP.push(next + groupCount(secretOnly(r.re.source.slice(0, -last[1]!.length))));
    next += groupCount(secretOnly(r.re.source));
  }
}
const COMBINED = new RegExp(COMBINED_RULES.map((r) => secretOnly(r.re.source)).join('|'), 'g');
const PGPASS_HEAD = RULES.filter((r) => r.pgpass).map((r) => ({
  rule: r,
  re: new RegExp(r.re.source.slice(2), 'dy'),
}));

function push(
  text: string,
  out: Candidate[],
  rule: Rule,
  m: RegExpExecArray,
  start: number,
  end: number,
): void {
  const kind = rule.accept ? rule.accept(m, text.slice(start, end)) : rule.kind;
  if (kind === null) return;
  // A trailing newline or escaped `\n` belongs to the surrounding text, not to the key.
  if (kind === 'private-key') {
    while (end > start) {
      const c = text.charCodeAt(end - 1);
      if (c === 10 || c === 13 || c === 32 || c === 9) end--;
      else if ((c === 110 || c === 114) && text.charCodeAt(end - 2) === 92) end -= 2;
      else break;
    }
  }
  out.push({ kind, start, end, priority: rule.priority });
}

/** Pushes a match's secret: group `s`, else from `lead`/`leadb` to the end, else the whole match. */
function pushIndexed(text: string, out: Candidate[], rule: Rule, m: RegExpExecArray): void {
  const ix = m.indices!;
  const inner = ix.groups?.s;
  if (inner) return push(text, out, rule, m, inner[0], inner[1]);
  const lead = ix.groups?.lead ?? ix.groups?.leadb;
  push(text, out, rule, m, lead ? lead[0] : m.index, ix[0]![1]);
}

/**
 * A standalone rule whose secret is the whole match or ends it is located from the match alone: match
 * indices (the `d` flag) allocate on every match, so only the other rules ask for them.
 */
const STANDALONE = STANDALONE_RULES.map((rule) => {
  const src = rule.re.source;
  const positional = !/\(\?<lead/.test(src) && (!src.includes('(?<s>') || SECRET_LAST.test(src));
  return { rule, positional, re: positional ? new RegExp(src, rule.re.flags.replace('d', '')) : rule.re };
});

function runCombined(text: string, re: RegExp, out: Candidate[]): boolean {
  const m = re.exec(text);
  if (m === null) return false;
  let i = 0;
  while (m[SECRET_GROUP[i]!] === undefined) i++;
  const rule = COMBINED_RULES[i]!;
  const secret = m[SECRET_GROUP[i]!]!;
  const end = m.index + m[0].length;
  const start = end - secret.length;
  const kind = rule.accept ? rule.accept(m, secret) : rule.kind;
  if (kind !== null) out.push({ kind, start, end, priority: rule.priority });
  // A context rule (`Bearer <x>`) must not hide a more specific token inside its value.
  if (start > m.index) re.lastIndex = start;
  return true;
}

function runRules(text: string, out: Candidate[]): void {
  COMBINED.lastIndex = 0;
  while (runCombined(text, COMBINED, out));
  for (const { rule, positional, re } of STANDALONE) {
    if (rule.gate && !rule.gate.some((g) => text.includes(g))) continue;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (!positional) pushIndexed(text, out, rule, m);
      else {
        const end = m.index + m[0].length;
        const secret = m.groups?.s;
        push(text, out, rule, m, secret === undefined ? m.index : end - secret.length, end);
      }
    }
  }
  for (const { rule, re } of PGPASS_HEAD) {
    re.lastIndex = 0;
    const m = re.exec(text);
    if (m) pushIndexed(text, out, rule, m);
  }
}

// ---- key = value scanning ----

const KEYWORD = /pass|pwd|pw|secret|token|auth|cred|key|sig|session|cookie|salt|license/gi;
const MAX_KEY = 80;
/** Logs repeat the same few keys; classifying one costs a few regex passes. */
const keyCache = new Map<string, KeyClass | null>();
const MAX_VALUE = 8192;

const isKeyChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
const isBlank = (c: number) => c === 32 || c === 9;
/** Ends an unquoted value. */
const isValueStop = (c: number) =>
  c === 32 ||
  c === 9 ||
  c === 10 ||
  c === 13 ||
  c === 34 ||
  c === 39 ||
  c === 44 ||
  c === 59 ||
  c === 38 ||
  c === 41 ||
  c === 125 ||
  c === 93 ||
  c === 60 ||
  c === 62 ||
  c === 96;

function lineStartBefore(text: string, pos: number): number {
  const nl = text.lastIndexOf('\n', pos - 1);
  return nl + 1;
}

function scanKeyValues(text: string, out: Candidate[]): void {
  KEYWORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = KEYWORD.exec(text)) !== null) {
    let ks = m.index;
    const floor = Math.max(0, m.index - MAX_KEY);
    while (ks > floor && isKeyChar(text.charCodeAt(ks - 1))) ks--;
    let ke = m.index + m[0].length;
    while (ke < text.length && ke - ks < MAX_KEY + 8 && isKeyChar(text.charCodeAt(ke))) ke++;
    KEYWORD.lastIndex = ke;
    if (ks > 0 && isKeyChar(text.charCodeAt(ks - 1))) continue;
    let nameStart = ks;
    while (text.charCodeAt(nameStart) === 45) nameStart++;
    const dashed = nameStart > ks;
    const key = text.slice(nameStart, ke);
    const before = ks > 0 ? text.charCodeAt(ks - 1) : -1;
    // `$PASSWORD`, `${TOKEN}` and `/etc/secret` are references, not assignments.
    if (
      before === 36 ||
      before === 123 ||
      before === 47 ||
      (before === 92 && text.charCodeAt(ks - 2) !== 47)
    ) {
      if (!(before === 92 && text.charCodeAt(ke) === 92)) continue;
    }
    let cls = keyCache.get(key);
    if (cls === undefined) {
      cls = classifyKey(key);
      if (keyCache.size > 4096) keyCache.clear();
      keyCache.set(key, cls);
    }
    if (cls === null) continue;

    let p = ke;
    // Closing quote of a quoted key, possibly JSON-escaped (`\"password\":`).
    if (text.charCodeAt(p) === 92 && (text.charCodeAt(p + 1) === 34 || text.charCodeAt(p + 1) === 39)) p += 2;
    else if (text.charCodeAt(p) === 34 || text.charCodeAt(p) === 39) p++;
    while (isBlank(text.charCodeAt(p))) p++;
    const c0 = text.charCodeAt(p);
    const c1 = text.charCodeAt(p + 1);
    let sep = '';
    if (c0 === 58 && c1 === 61) sep = ':=';
    else if (c0 === 61 && c1 === 62) sep = '=>';
    else if (c0 === 61 && c1 !== 61) sep = '=';
    else if (c0 === 58 && c1 !== 58) sep = ':';
    else if (dashed && p > ke && c0 !== 45) sep = ' ';
    if (sep === '') continue;
    const spacedSep = isBlank(text.charCodeAt(p - 1));
    p += sep === ' ' ? 0 : sep.length;
    const afterSep = p;
    while (isBlank(text.charCodeAt(p))) p++;
    const spacedAfter = p > afterSep;

    let vs = p;
    let ve: number;
    let q = text.charCodeAt(p);
    let escapedQuote = false;
    if (q === 92 && (text.charCodeAt(p + 1) === 34 || text.charCodeAt(p + 1) === 39)) {
      escapedQuote = true;
      q = text.charCodeAt(p + 1);
      vs = p + 2;
    }
    if (q === 34 || q === 39 || q === 96) {
      if (!escapedQuote) vs = p + 1;
      ve = vs;
      const limit = Math.min(text.length, vs + MAX_VALUE);
      while (ve < limit) {
        const c = text.charCodeAt(ve);
        if (c === 10) break;
        if (escapedQuote) {
          if (c === 92 && text.charCodeAt(ve + 1) === q) break;
          if (c === 92) ve++;
        } else {
          if (c === q) break;
          if (c === 92 && q !== 39) ve++;
        }
        ve++;
      }
    } else {
      const lineStart = lineStartBefore(text, ks);
      const lead = text.slice(lineStart, ks);
      // YAML / INI style (`password: two words`, `password = x y`) takes the rest of the line.
      const wholeLine =
        /^[ \t]*(?:- |export |set |#[ \t]*)?["']?$/.test(lead) &&
        (sep === ':' || (sep === '=' && spacedSep && spacedAfter));
      ve = vs;
      const limit = Math.min(text.length, vs + MAX_VALUE);
      if (wholeLine) {
        while (ve < limit && text.charCodeAt(ve) !== 10) ve++;
        const commented = text.slice(vs, ve).search(/[ \t]#/);
        if (commented >= 0) ve = vs + commented;
        while (ve > vs && (isBlank(text.charCodeAt(ve - 1)) || text.charCodeAt(ve - 1) === 13)) ve--;
      } else {
        while (ve < limit && !isValueStop(text.charCodeAt(ve))) ve++;
      }
    }
    if (ve <= vs) continue;
    const value = text.slice(vs, ve);
    if (isPlaceholder(value) || isPath(value)) continue;
    if (/^[|>][-+]?$/.test(value)) {
      if (cls !== 'weak') pushBlockScalar(text, ks, ve, cls, out);
      continue;
    }
    if (value.startsWith('{') || value.startsWith('[')) continue;
    let kind: string;
    if (cls === 'weak') {
      if (!looksHighEntropy(value)) continue;
      kind = 'high-entropy';
    } else {
      // Token counts and the like (`max_token: 512`) are not secrets; numeric passwords are.
      if (cls !== 'password' && /^[0-9]{1,6}$/.test(value)) continue;
      kind = cls;
    }
    // Only a value that became a span is skipped over; a rejected one may still hold other keys.
    KEYWORD.lastIndex = Math.max(KEYWORD.lastIndex, ve);
    out.push({ kind, start: vs, end: ve, priority: 5 });
  }
}

/** `password: |` in YAML: the secret is the more-indented lines that follow. */
function pushBlockScalar(
  text: string,
  keyStart: number,
  lineEnd: number,
  kind: string,
  out: Candidate[],
): void {
  const ls = lineStartBefore(text, keyStart);
  const keyIndent = keyStart - ls;
  let start = -1;
  let end = -1;
  let at = text.indexOf('\n', lineEnd);
  for (let n = 0; n < 200 && at >= 0 && at + 1 < text.length; n++) {
    const next = at + 1;
    let le = text.indexOf('\n', next);
    if (le < 0) le = text.length;
    const line = text.slice(next, le).replace(/\r$/, '');
    const indent = line.length - line.trimStart().length;
    if (line.trim() !== '') {
      if (indent <= keyIndent) break;
      if (start < 0) start = next + indent;
      end = next + line.length;
    }
    at = le < text.length ? le : -1;
  }
  if (start >= 0 && end > start) out.push({ kind, start, end, priority: 5 });
}

// ---- Kubernetes Secret manifests ----

/** Blank, indented, or a top-level `key:` line: what a YAML mapping is made of. */
export const isYamlish = (line: string) => /^(?:[ \t]|[A-Za-z_"'][\w"'./-]*:(?:[ \t]|\r?$)|\r?$)/.test(line);

const K8S_SECRET = /^kind:[ \t]*["']?Secret["']?[ \t]*\r?$/gm;
/** How far past `kind: Secret` the data block may sit; the stream holds back the same window. */
export const K8S_WINDOW_LINES = 400;

function scanK8sSecrets(text: string, out: Candidate[]): void {
  if (!text.includes('Secret')) return;
  K8S_SECRET.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = K8S_SECRET.exec(text)) !== null) {
    // `kubectl get -o yaml` sorts keys, so `data:` often comes before `kind:`: the document is the
    // run of YAML-looking lines around the kind line (the stream never cuts inside such a run).
    const kindStart = m.index;
    let docStart = kindStart;
    for (let n = 0; n < K8S_WINDOW_LINES && docStart > 0; n++) {
      const prev = text.lastIndexOf('\n', docStart - 2) + 1;
      const line = text.slice(prev, docStart - 1);
      if (line.startsWith('---') || !isYamlish(line)) break;
      docStart = prev;
    }
    let ls = docStart;
    let inData = false;
    let blockIndent = -1;
    let blockStart = -1;
    let blockEnd = -1;
    const flush = () => {
      if (blockStart >= 0 && blockEnd > blockStart)
        out.push({ kind: 'secret', start: blockStart, end: blockEnd, priority: 6 });
      blockStart = blockEnd = -1;
    };
    for (let n = 0; n < 2 * K8S_WINDOW_LINES && ls < text.length; n++) {
      let le = text.indexOf('\n', ls);
      if (le < 0) le = text.length;
      const here = ls;
      ls = le + 1;
      let line = text.slice(here, le);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (/^---/.test(line) || (here > kindStart && /^kind:/.test(line))) break;
      if (here < kindStart && !isYamlish(line)) break;
      if (line.trim() === '') continue;
      const indent = line.length - line.trimStart().length;
      if (indent === 0) {
        flush();
        inData = /^(?:data|stringData):[ \t]*$/.test(line);
        continue;
      }
      if (!inData) continue;
      if (blockIndent >= 0 && indent > blockIndent) {
        if (blockStart < 0) blockStart = here + indent;
        blockEnd = here + line.length;
        continue;
      }
      flush();
      blockIndent = -1;
      const kv = /^([ \t]+)["']?[A-Za-z0-9_.-]+["']?:[ \t]*(.*)$/.exec(line);
      if (!kv) continue;
      let value = kv[2]!.replace(/[ \t]+$/, '');
      let vs = here + line.length - kv[2]!.length;
      if (/^[|>][-+]?$/.test(value)) {
        blockIndent = indent;
        continue;
      }
      if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
        value = value.slice(1, -1);
        vs++;
      }
      if (isPlaceholder(value)) continue;
      out.push({ kind: 'secret', start: vs, end: vs + value.length, priority: 6 });
    }
    flush();
  }
}

/** Every secret in `text`: sorted, non-overlapping (overlaps merge, so no tail of a secret leaks). */
export function findSecrets(text: string): SecretSpan[] {
  const found: Candidate[] = [];
  runRules(text, found);
  scanKeyValues(text, found);
  scanK8sSecrets(text, found);
  // Same start: the most specific detector names the span, the longest decides where it ends.
  found.sort((a, b) => a.start - b.start || a.priority - b.priority || b.end - a.end);
  const spans: SecretSpan[] = [];
  let last: SecretSpan | undefined;
  for (const c of found) {
    if (last && c.start < last.end) {
      if (c.end > last.end) last.end = c.end;
      continue;
    }
    last = { kind: c.kind, start: c.start, end: c.end };
    spans.push(last);
  }
  return spans;
}

export function redactText(text: string): string {
  const spans = findSecrets(text);
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let at = 0;
  for (const s of spans) {
    parts.push(text.slice(at, s.start), marker(s.kind));
    at = s.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}
