import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactText } from '../../operator/src/redact/index.ts';

const MARKER = /\[REDACTED:[a-z0-9-]+\]/g;
const chars = (set: string, n: number) =>
  fc.array(fc.constantFrom(...set), { minLength: n, maxLength: n }).map((a) => a.join(''));
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPDIG = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const HEX = '0123456789abcdef';
const URL64 = ALNUM + '-_';

/** One generator per prefixed token type: the fixed prefix plus random characters of the right shape. */
const TOKENS: Record<string, fc.Arbitrary<string>> = {
  'aws-access-key': chars(UPDIG, 16).map((s) => 'AKIA' + s),
  'google-api-key': chars(URL64, 35).map((s) => 'AIza' + s),
  'github-token': chars(ALNUM, 36).map((s) => 'ghp_' + s),
  'gitlab-token': chars(ALNUM, 20).map((s) => 'glpat-' + s),
  'slack-token': chars(ALNUM, 24).map((s) => 'xoxb-1234567890-' + s),
  'stripe-key': chars(ALNUM, 24).map((s) => 'sk_live_' + s),
  'twilio-key': chars(HEX, 32).map((s) => 'SK' + s),
  'sendgrid-key': fc.tuple(chars(URL64, 22), chars(URL64, 43)).map(([a, b]) => `SG.${a}.${b}`),
  'npm-token': chars(ALNUM, 36).map((s) => 'npm_' + s),
  'pypi-token': chars(URL64, 60).map((s) => 'pypi-AgEIcHlwaS5vcmc' + s),
  'dockerhub-token': chars(URL64, 27).map((s) => 'dckr_pat_' + s),
  'vault-token': chars(URL64, 90).map((s) => 'hvs.' + s),
  'anthropic-key': chars(URL64, 95).map((s) => 'sk-ant-api03-' + s),
  'openai-key': chars(ALNUM, 47).map((s) => 'sk-proj-' + s + '7'),
  'huggingface-token': chars(ALNUM, 34).map((s) => 'hf_' + s),
  'shopify-token': chars(HEX, 32).map((s) => 'shpat_' + s),
  'atlassian-token': chars(URL64, 190).map((s) => 'ATATT3' + s),
  'digitalocean-token': chars(HEX, 64).map((s) => 'dop_v1_' + s),
  jwt: fc.tuple(chars(URL64, 30), chars(URL64, 60)).map(([a, b]) => `eyJhbGciOiJIUzI1NiJ9.eyJ${a}.${b}`),
};

// Surrounding text that cannot itself form a secret: words, spaces, punctuation without key shapes.
const filler = fc
  .array(
    fc.constantFrom(
      'ok',
      'request',
      'served',
      'in',
      '12ms',
      'from',
      'web01',
      ',',
      '(',
      ')',
      ' ',
      '\n',
      '- ',
      '#',
    ),
    {
      maxLength: 12,
    },
  )
  .map((a) => a.join(' '));

const arbitraryText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc
    .array(fc.oneof(filler, ...Object.values(TOKENS), fc.constant('password='), fc.constant('token: ')), {
      maxLength: 8,
    })
    .map((a) => a.join(' ')),
);

describe('redaction properties', () => {
  it('is idempotent', () => {
    fc.assert(
      fc.property(arbitraryText, (text) => {
        const once = redactText(text);
        expect(redactText(once)).toBe(once);
      }),
      { numRuns: 400 },
    );
  });

  it('never grows the text beyond the markers it adds', () => {
    fc.assert(
      fc.property(arbitraryText, (text) => {
        const out = redactText(text);
        expect(out.replace(MARKER, '').length).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 400 },
    );
  });

  it('leaves short alphanumerics in plain ASCII untouched', () => {
    const word = fc.array(fc.constantFrom(...ALNUM), { minLength: 1, maxLength: 15 }).map((a) => a.join(''));
    const sep = fc.constantFrom(' ', '  ', '\n', ', ', '. ', ' - ', '\t', ' / ');
    fc.assert(
      fc.property(fc.array(fc.tuple(word, sep), { maxLength: 20 }), (parts) => {
        const text = parts.map(([w, s]) => w + s).join('');
        expect(redactText(text)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  for (const [kind, token] of Object.entries(TOKENS)) {
    it(`always removes a ${kind}`, () => {
      fc.assert(
        fc.property(filler, token, filler, (before, secret, after) => {
          const out = redactText(`${before} ${secret} ${after}`);
          expect(out).not.toContain(secret);
          expect(out).toContain(`[REDACTED:${kind}]`);
        }),
        { numRuns: 60 },
      );
    });
  }
});
