import { looksHighEntropy } from './entropy.ts';

// Detectors. Every pattern starts with a literal (or a rare character) so V8 can skip ahead fast,
// and every repetition is bounded by a character class that cannot overlap its successor, so no
// pattern can backtrack catastrophically.

export interface Rule {
  kind: string;
  /** Global, with the `d` flag; the secret is the named group `s` (or the whole match). */
  re: RegExp;
  /** The pattern is `\n`-anchored: run it on the text with a newline in front. */
  pgpass?: boolean;
  /** Run only when one of these substrings occurs (a cheap check for a pattern with a common start). */
  gate?: string[];
  /** Kept out of the combined pass (case-insensitive, or its own anchoring is what makes it fast). */
  standalone?: boolean;
  /** Lower wins when two detectors claim exactly the same span. */
  priority: number;
  /**
   * Returns the kind to use, or null to reject the match (placeholders, public keys...). For a rule in the
   * combined scan, `match` is that scan's match: its groups are not the rule's, so look at `secret`.
   */
  accept?: (match: RegExpExecArray, secret: string) => string | null;
}

/** Not preceded by a token character, so `xghp_...` inside a longer word is not a GitHub token. */
const B = '(?<![A-Za-z0-9_])';
const E = '(?![A-Za-z0-9_])';

// One PEM body line: base64, an RFC 1421 header (`Proc-Type: 4,ENCRYPTED`) or blank, and it must run to
// the line's end (or a closing quote in JSON) so prose after an unterminated key is never half-eaten.
const BODY =
  '[ \\t]*(?:[A-Za-z0-9+/=]+|[A-Za-z][A-Za-z0-9-]*:[^\\n\\\\"]*)?[ \\t\\r]*(?=\\r?\\n|\\\\r?\\\\n|["\',]|$)';
const SEP = '(?:\\r?\\n|\\\\r?\\\\n)';
const END = '-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----';
export const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
export const PEM_END_LINE = new RegExp(`^[ \\t]*${END}`);
/** The regex can step into this line (so a cut before it would split the block). */
export const PEM_ENTERS = new RegExp(`^(${BODY})`);
/** The regex consumes the whole line and may continue on the next one. */
export const PEM_CONTINUES = new RegExp(`^${BODY}(?:\\\\r?\\\\n${BODY})*$`);
/** After a BEGIN header, the rest of the line leaves the block open. */
export const PEM_OPEN_TAIL = new RegExp(`^[ \\t\\r]*(?:\\\\r?\\\\n${BODY})*$`);

const PEM = new RegExp(
  `-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:[^\\n]*?${END}|[ \\t\\r]*(?:${SEP}${BODY})*(?:${SEP}[ \\t]*${END})?)`,
  'gd',
);

const DB_SCHEMES = new Set([
  'postgres',
  'postgresql',
  'mysql',
  'mariadb',
  'mongodb',
  'mongodb+srv',
  'redis',
  'rediss',
  'amqp',
  'amqps',
  'mssql',
  'sqlserver',
  'jdbc:postgresql',
  'jdbc:mysql',
  'clickhouse',
  'cockroachdb',
  'kafka',
  'nats',
  'memcached',
]);

// Checked on every candidate value, so each is one anchored regex: masks, template and variable
// references (the secret lives elsewhere), and code such as `os.getenv(...)`.
const PLACEHOLDER_SHAPE =
  /^(?:[*xX•.#?_-]+$|\$|%\(|%s|\{\{|<[^>]*>$|\{[A-Za-z_]+\}$|process\.env|os\.environ|os\.getenv|ENV\[|getenv\(|secrets\.|vault:|ref\+|[A-Za-z_][\w.]*\(|\[REDACTED)/;
const PLACEHOLDER_WORD =
  /^(?:null|none|nil|undefined|true|false|yes|no|redacted|hidden|masked|secret|password|string|str|number|int|bool|boolean|bytes|env|required|optional|todo|tbd|n\/a)$/i;

/** Values that stand in for a secret rather than being one. */
export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  return v === '' || PLACEHOLDER_SHAPE.test(v) || PLACEHOLDER_WORD.test(v);
}

// Base64 may start with a slash too; a path is low-entropy.
const isPath = (v: string) => /^(?:\/|\.{1,2}\/|~\/|file:)/.test(v) && !looksHighEntropy(v);

export const RULES: Rule[] = [
  { kind: 'private-key', re: PEM, priority: 0, standalone: true },
  {
    kind: 'aws-access-key',
    re: new RegExp(`${B}(?<s>(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|A3T[A-Z0-9])[A-Z0-9]{16})${E}`, 'gd'),
    priority: 1,
  },
  {
    kind: 'google-api-key',
    re: new RegExp(`${B}(?<s>AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])`, 'gd'),
    priority: 1,
  },
  {
    kind: 'github-token',
    re: new RegExp(`${B}(?<s>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`, 'gd'),
    priority: 1,
  },
  {
    kind: 'gitlab-token',
    re: new RegExp(`${B}(?<s>gl(?:pat|dt|rt|ptt|cbt|imt|soat|ffct|oas|ft|agent)-[A-Za-z0-9_-]{20,})`, 'gd'),
    priority: 1,
  },
  {
    kind: 'slack-token',
    re: new RegExp(`${B}(?<s>xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})`, 'gd'),
    priority: 1,
  },
  {
    kind: 'slack-webhook',
    re: /hooks\.slack\.com\/(?:services|workflows|triggers)\/(?<s>[A-Za-z0-9_/-]{10,})/dg,
    priority: 1,
  },
  {
    kind: 'stripe-key',
    re: new RegExp(`${B}(?<s>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})`, 'gd'),
    priority: 1,
  },
  { kind: 'twilio-key', re: new RegExp(`${B}(?<s>SK[0-9a-fA-F]{32})${E}`, 'gd'), priority: 1 },
  {
    kind: 'sendgrid-key',
    re: new RegExp(`${B}(?<s>SG\\.[A-Za-z0-9_-]{16,32}\\.[A-Za-z0-9_-]{16,64})`, 'gd'),
    priority: 1,
  },
  { kind: 'npm-token', re: new RegExp(`${B}(?<s>npm_[A-Za-z0-9]{36})${E}`, 'gd'), priority: 1 },
  { kind: 'pypi-token', re: new RegExp(`${B}(?<s>pypi-AgE[A-Za-z0-9_-]{50,})`, 'gd'), priority: 1 },
  {
    kind: 'dockerhub-token',
    re: new RegExp(`${B}(?<s>dckr_pat_[A-Za-z0-9_-]{20,})`, 'gd'),
    priority: 1,
  },
  { kind: 'vault-token', re: new RegExp(`${B}(?<s>hv[sbr]\\.[A-Za-z0-9_-]{20,})`, 'gd'), priority: 1 },
  {
    kind: 'anthropic-key',
    re: new RegExp(`${B}(?<s>sk-ant-[A-Za-z0-9_-]{20,})`, 'gd'),
    priority: 0,
  },
  {
    kind: 'openai-key',
    re: new RegExp(`${B}(?<s>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})`, 'gd'),
    priority: 1,
    // Real keys mix digits and letters; this keeps slugs like `sk-some-long-feature-branch` out.
    accept: (_m, s) => (/[0-9]/.test(s) && /[A-Za-z]{2}/.test(s.slice(3)) ? 'openai-key' : null),
  },
  {
    kind: 'huggingface-token',
    re: new RegExp(`${B}(?<s>hf_[A-Za-z0-9]{30,})${E}`, 'gd'),
    priority: 1,
  },
  {
    kind: 'shopify-token',
    re: new RegExp(`${B}(?<s>shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32})${E}`, 'gd'),
    priority: 1,
  },
  {
    kind: 'atlassian-token',
    re: new RegExp(`${B}(?<s>AT(?:ATT|CTT)[A-Za-z0-9_=-]{40,})`, 'gd'),
    priority: 1,
  },
  {
    kind: 'digitalocean-token',
    re: new RegExp(`${B}(?<s>do[por]_v1_[a-f0-9]{64})`, 'gd'),
    priority: 1,
  },
  {
    // Discord and Telegram bot tokens: anchored on a separator (`.` / `:`) with the leading part
    // captured inside a lookbehind, which V8 scans far faster than a character-class start.
    kind: 'discord-token',
    re: /(?:\.(?<=(?<![A-Za-z0-9_.-])(?<lead>[MNO][A-Za-z0-9_-]{23,27})\.)[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_.-])|:(?<=(?<![A-Za-z0-9_])(?<leadb>[0-9]{8,10}):)[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-]))/dg,
    priority: 1,
    standalone: true,
    accept: (_m, s) =>
      /^[0-9]{8,10}:/.test(s) ? 'telegram-token' : /[0-9]/.test(s) ? 'discord-token' : null,
  },
  {
    kind: 'google-oauth-secret',
    re: new RegExp(`${B}(?<s>GOCSPX-[A-Za-z0-9_-]{24,})`, 'gd'),
    priority: 1,
  },
  { kind: 'google-oauth-token', re: new RegExp(`${B}(?<s>ya29\\.[A-Za-z0-9_-]{20,})`, 'gd'), priority: 1 },
  {
    kind: 'discord-webhook',
    re: /discord(?:app)?\.com\/api\/webhooks\/[0-9]{5,}\/(?<s>[A-Za-z0-9_-]{20,})/dg,
    priority: 1,
  },
  {
    kind: 'jwt',
    re: new RegExp(`${B}(?<s>eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*)`, 'gd'),
    priority: 1,
  },
  {
    kind: 'azure-storage-key',
    re: /(?:AccountKey|SharedAccessKey)=(?<s>[A-Za-z0-9+/]{20,}={0,2})/dg,
    priority: 1,
  },
  {
    kind: 'azure-sas',
    re: /[?&;]sig=(?<s>[A-Za-z0-9%+/]{20,}(?:%3D|=){0,2})/dg,
    priority: 1,
  },
  {
    kind: 'bearer',
    re: /(?<![A-Za-z0-9_-])(?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*\\?["']?(?:(?<scheme>bearer|basic|token|apikey|api-key|key|digest|negotiate|ntlm|sso-key|otp)[ \t]+)?(?<s>[A-Za-z0-9._~+/=:-]{6,})/dgi,
    standalone: true,
    priority: 3,
    accept: (m, s) => {
      if (isPlaceholder(s)) return null;
      const scheme = m.groups?.scheme?.toLowerCase();
      if (scheme === 'basic') return 'basic-auth';
      if (scheme === undefined && /^(?:bearer|basic|token)$/i.test(s)) return null;
      return 'bearer';
    },
  },
  {
    kind: 'bearer',
    re: new RegExp(`${B}[Bb]earer[ \\t]+(?<s>[A-Za-z0-9._~+/-]{16,}=*)`, 'gd'),
    priority: 3,
  },
  {
    kind: 'basic-auth',
    re: new RegExp(`${B}Basic[ \\t]+(?<s>[A-Za-z0-9+/]{12,}={0,2})(?![A-Za-z0-9+/=])`, 'gd'),
    priority: 3,
    // Only base64 that decodes to `user:password` is credentials; "Basic Authentication" is prose.
    accept: (_m, s) => (Buffer.from(s, 'base64').toString('latin1').includes(':') ? 'basic-auth' : null),
  },
  {
    kind: 'url-password',
    re: /:\/\/[^\s:/?#@'"<>[\]]*:(?<s>[^\s@/'"<>]+)@(?=[A-Za-z0-9[._-])/dg,
    priority: 2,
    standalone: true,
    accept: (m, s) => {
      if (isPlaceholder(s)) return null;
      let i = m.index;
      while (i > 0 && i > m.index - 32 && /[A-Za-z0-9+.:-]/.test(m.input[i - 1]!)) i--;
      const scheme = m.input.slice(i, m.index).toLowerCase();
      return DB_SCHEMES.has(scheme) ? 'connection-string' : 'url-password';
    },
  },
  {
    kind: 'pgpass',
    // host:port:database:user:password as a whole line. `\n`-anchored (the engine checks the text's
    // start apart) because a literal start scans far faster than `^` with the m flag; the field
    // checks that keep MAC addresses and clock times out run only on the rare full match.
    re: /\n(?<line>[^\s:]+:(?:[0-9]{1,5}|\*):[^\s:]+:[^\s:]+:)(?<s>[^\s]+)(?=\r?\n|$)/dg,
    pgpass: true,
    standalone: true,
    priority: 2,
    accept: (m, s) => {
      const [host, , db, user] = (m.groups?.line ?? '').split(':');
      const ok =
        /^(?:\*|[A-Za-z0-9._[\]-]*[A-Za-z.][A-Za-z0-9._[\]-]*)$/.test(host ?? '') &&
        /^(?:\*|.*[A-Za-z_].*)$/.test(db ?? '') &&
        /[A-Za-z_*]/.test(user ?? '');
      return ok && !isPlaceholder(s) ? 'pgpass' : null;
    },
  },
  {
    kind: 'password',
    // `curl -u user:secret`: keeps the user, like a URL's userinfo.
    re: /(?<![A-Za-z0-9_-])(?:-u|--user)(?:[ \t]+|=)["']?[^\s:'"]+:(?<s>[^\s'"]+)/dg,
    gate: ['-u', '--user'],
    standalone: true,
    priority: 2,
    accept: (_m, s) => (isPlaceholder(s) ? null : 'password'),
  },
  {
    kind: 'password',
    // `mysql -pSECRET`: the value is glued to the flag, so no key=value shape exists.
    re: /(?<![A-Za-z0-9_-])mysql(?:dump|admin|sh|import)?[ \t][^\n]*?[ \t]-p(?<s>[^\s'"-][^\s'"]*)/dg,
    priority: 2,
    accept: (_m, s) => (isPlaceholder(s) ? null : 'password'),
  },
];

// ---- key = value ----

const EXCLUDED_LAST = new Set(
  (
    'url uri urls endpoint type types expiry expires expiration expire expired ttl lifetime timeout file files ' +
    'path paths dir directory name names length len count limit policy ref refs env field header prefix ' +
    'suffix method mode enabled enable disabled required version size format algorithm algo location provider ' +
    'source id ids hint rotation age kind label prompt reset min max regex pattern strength question store ' +
    'manager usage used count schema rule rules scope scopes audience issuer request response valid validity ' +
    'created updated at interval retries attempts tokens'
  ).split(' '),
);
const STRONG_KEY_PREFIX = new Set(
  'api access private secret signing encryption master account shared storage deploy client app service auth'.split(
    ' ',
  ),
);
const WEAK_SEGMENTS = new Set('auth session sessionid sid sig signature cookie salt license'.split(' '));

export type KeyClass = 'password' | 'secret' | 'aws-secret-key' | 'weak';

/** Splits `DB_PASSWORD`, `githubToken`, `x-api-key`, `APIKey` into lowercase segments. */
export function keySegments(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((s) => s !== '');
}

export function classifyKey(key: string): KeyClass | null {
  const segs = keySegments(key);
  const last = segs[segs.length - 1];
  if (last === undefined || EXCLUDED_LAST.has(last)) return null;
  if (segs.length === 1 && (last === 'authorization' || last === 'key')) return null;
  let weak = false;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (/pass(?:word|wd|phrase)|^pwd$|^pass$|^pw$|^passwd/.test(s)) return 'password';
    if (s.includes('secret')) return segs.includes('aws') ? 'aws-secret-key' : 'secret';
    if (
      (s.endsWith('token') && s !== 'tokenizer') ||
      s.endsWith('apikey') ||
      /^cred(?:s|ential|entials)?$/.test(s)
    )
      return segs.includes('aws') ? 'aws-secret-key' : 'secret';
    if (s === 'privatekey' || s === 'accesskey' || s === 'secretkey' || s === 'signingkey') return 'secret';
    const next = segs[i + 1];
    if (next === 'key' && STRONG_KEY_PREFIX.has(s)) return s === 'app' || s === 'client' ? 'weak' : 'secret';
    if (WEAK_SEGMENTS.has(s)) weak = true;
  }
  return weak ? 'weak' : null;
}

export { isPath };
