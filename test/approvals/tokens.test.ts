import { createHash, createHmac, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactVerify, SignJWT } from 'jose';
import { signApproval } from '@dropops/appliance';
import { caFiles, generateKeyPair, initCa, loadCa, type CertificateAuthority } from '@dropops/pki';
import { APPROVAL_TOKEN_TYPE, commandDigest, freshNonce } from '@dropops/protocol';
import {
  ApprovalError,
  MemoryNonceStore,
  verifyApproval,
  type VerifyApprovalOptions,
} from '@dropops/operator';
import { exec, tempDir } from '../helpers.ts';

const operatorId = randomUUID();
const otherOperatorId = randomUUID();
const command = 'systemctl restart nginx';
let work: ReturnType<typeof tempDir>;
let ca: CertificateAuthority;
let otherAppliance: CertificateAuthority;

beforeAll(() => {
  work = tempDir();
  ca = initCa(join(work.path, 'ca'));
  otherAppliance = initCa(join(work.path, 'other-ca'));
});
afterAll(() => work.remove());

const grant = (overrides: Partial<Parameters<typeof signApproval>[1]> = {}) => ({
  operatorId,
  command,
  approver: 'alice@example.com',
  executionId: randomUUID(),
  ...overrides,
});
const options = (overrides: Partial<VerifyApprovalOptions> = {}): VerifyApprovalOptions => ({
  operatorId,
  command,
  publicKeyPem: ca.approvalKey.publicKeyPem,
  nonces: new MemoryNonceStore(),
  ...overrides,
});
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const partsOf = (token: string) => {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return { header, payload, signature, claims: JSON.parse(Buffer.from(payload, 'base64url').toString()) };
};
/** Claims an honest appliance would sign, for tokens the tests sign themselves with the real key. */
const claimsNow = (extra: Record<string, unknown> = {}) => {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: 'dropops-appliance',
    aud: operatorId,
    cmd: commandDigest(command),
    apr: 'alice@example.com',
    exe: randomUUID(),
    iat,
    exp: iat + 600,
    nonce: freshNonce().nonce,
    ...extra,
  };
};
const signedWithRealKey = (claims: Record<string, unknown>, header: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', ...header }).sign(ca.approvalKey.privateKey);

async function refusal(token: string, opts: VerifyApprovalOptions = options()): Promise<ApprovalError> {
  const err = await verifyApproval(token, opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApprovalError);
  expect((err as ApprovalError).message.length).toBeGreaterThan(20);
  return err as ApprovalError;
}

describe('the approval key', () => {
  it('is an Ed25519 key in the CA directory, private half 0600, created by init', async () => {
    const files = caFiles(ca.dir);
    expect(statSync(files.approvalKey).mode & 0o777).toBe(0o600);
    expect(readFileSync(files.approvalPub, 'utf8')).toBe(ca.approvalKey.publicKeyPem);
    const text = await exec('openssl', ['pkey', '-pubin', '-in', files.approvalPub, '-noout', '-text']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/ED25519 Public-Key/);
    expect(loadCa(ca.dir).approvalKey.publicKeyPem).toBe(ca.approvalKey.publicKeyPem);
  });

  it('is created on demand for a CA directory made before approval keys existed, and then kept', () => {
    const old = initCa(join(work.path, 'old-ca'));
    const files = caFiles(old.dir);
    rmSync(files.approvalKey);
    rmSync(files.approvalPub);
    const upgraded = loadCa(old.dir);
    expect(existsSync(files.approvalKey)).toBe(true);
    expect(statSync(files.approvalKey).mode & 0o777).toBe(0o600);
    expect(upgraded.approvalKey.publicKeyPem).not.toBe(old.approvalKey.publicKeyPem);
    expect(loadCa(old.dir).approvalKey.publicKeyPem).toBe(upgraded.approvalKey.publicKeyPem);
  });

  it('refuses to sign with a key file that is not Ed25519', () => {
    const bad = initCa(join(work.path, 'rsa-ca'));
    const path = caFiles(bad.dir).approvalKey;
    rmSync(path);
    writeFileSync(path, generateKeyPair(2048).privateKeyPem, { mode: 0o600 });
    expect(() => loadCa(bad.dir)).toThrowError(expect.objectContaining({ code: 'UNSUPPORTED_KEY' }));
  });
});

describe('an approval token', () => {
  it('is a compact EdDSA JWS of type dropops-approval+jwt that openssl verifies with approval.pub.pem', async () => {
    const signed = await signApproval(ca.approvalKey.privateKey, grant());
    const { header, payload, signature, claims } = partsOf(signed.token);
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
      alg: 'EdDSA',
      typ: APPROVAL_TOKEN_TYPE,
    });
    expect(claims.cmd).toBe(createHash('sha256').update(Buffer.from(command, 'utf8')).digest('hex'));
    expect(claims.aud).toBe(operatorId);
    expect(claims.nonce).toBe(signed.nonce);
    expect(Buffer.from(signed.nonce, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(claims.exp - claims.iat).toBe(600);
    expect(signed.expiresAt.getTime()).toBe(claims.exp * 1000);
    const input = join(work.path, 'signing-input');
    const sig = join(work.path, 'signature');
    writeFileSync(input, `${header}.${payload}`);
    writeFileSync(sig, Buffer.from(signature, 'base64url'));
    const check = await exec('openssl', [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      caFiles(ca.dir).approvalPub,
      '-rawin',
      '-in',
      input,
      '-sigfile',
      sig,
    ]);
    expect(check.stdout).toMatch(/Signature Verified Successfully/);
  });

  it('is accepted once for the operator and command it names', async () => {
    const g = grant();
    const signed = await signApproval(ca.approvalKey.privateKey, g);
    await expect(verifyApproval(signed.token, options())).resolves.toEqual({
      approver: 'alice@example.com',
      executionId: g.executionId,
      nonce: signed.nonce,
      expiresAt: signed.expiresAt,
    });
  });

  it('is never signed for longer than an hour or for no time at all', async () => {
    for (const ttlSeconds of [0, -5, 1.5, 3601]) {
      await expect(signApproval(ca.approvalKey.privateKey, grant({ ttlSeconds }))).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
    }
    await expect(signApproval(ca.approvalKey.privateKey, grant({ approver: '' }))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('the operator refuses', () => {
  it("a token signed by another appliance's approval key", async () => {
    const signed = await signApproval(otherAppliance.approvalKey.privateKey, grant());
    expect((await refusal(signed.token)).code).toBe('FORGED');
  });

  it('an unsecured token (alg: none)', async () => {
    const { payload } = partsOf((await signApproval(ca.approvalKey.privateKey, grant())).token);
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, typ: APPROVAL_TOKEN_TYPE })}.${payload}.`;
      expect((await refusal(token)).code).toBe('FORGED');
    }
  });

  it('an HS256 token that uses the public key as its HMAC secret', async () => {
    const header = b64({ alg: 'HS256', typ: APPROVAL_TOKEN_TYPE });
    const payload = b64(claimsNow());
    const secret = ca.approvalKey.publicKeyPem;
    const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    const token = `${header}.${payload}.${signature}`;
    // The attack is real: a verifier that lets the token pick its algorithm would accept it.
    await expect(compactVerify(token, new TextEncoder().encode(secret))).resolves.toBeTruthy();
    expect((await refusal(token)).code).toBe('FORGED');
  });

  it('a token whose claims were changed after signing', async () => {
    const { header, payload, signature, claims } = partsOf(
      (await signApproval(ca.approvalKey.privateKey, grant())).token,
    );
    const changes = [
      { aud: otherOperatorId },
      { cmd: commandDigest('rm -rf /var/lib/postgresql') },
      { apr: 'mallory@example.com' },
      { exp: claims.exp + 3000 },
      { nonce: freshNonce().nonce },
    ];
    for (const change of changes) {
      const token = `${header}.${b64({ ...claims, ...change })}.${signature}`;
      expect((await refusal(token)).code).toBe('FORGED');
    }
    const retyped = `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${payload}.${signature}`;
    expect((await refusal(retyped)).code).toBe('FORGED');
  });

  it('an expired token, allowing 30 s of clock skew', async () => {
    const signed = await signApproval(ca.approvalKey.privateKey, grant({ ttlSeconds: 60 }));
    const exp = signed.expiresAt.getTime();
    await expect(
      verifyApproval(signed.token, options({ now: new Date(exp + 29_000) })),
    ).resolves.toBeTruthy();
    const late = await refusal(signed.token, options({ now: new Date(exp + 31_000) }));
    expect(late.code).toBe('EXPIRED');
    expect(late.message).toMatch(/approve the command again/);
    const old = await signApproval(ca.approvalKey.privateKey, grant(), Date.now() - 11 * 60 * 1000);
    expect((await refusal(old.token)).code).toBe('EXPIRED');
  });

  it('a token that claims to live more than an hour, or to be issued in the future', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const farFuture = await signedWithRealKey(claimsNow({ exp: iat + 2 * 3600 }), {
      typ: APPROVAL_TOKEN_TYPE,
    });
    const err = await refusal(farFuture);
    expect(err.code).toBe('EXPIRED');
    expect(err.message).toMatch(/clock/);
    const early = await signApproval(ca.approvalKey.privateKey, grant(), Date.now() + 5 * 60 * 1000);
    expect((await refusal(early.token)).code).toBe('EXPIRED');
  });

  it("another operator's approval", async () => {
    const signed = await signApproval(ca.approvalKey.privateKey, grant({ operatorId: otherOperatorId }));
    const err = await refusal(signed.token);
    expect(err.code).toBe('WRONG_OPERATOR');
    expect(err.message).toContain(otherOperatorId);
  });

  it('a command that differs by one byte, by whitespace or by a Unicode look-alike', async () => {
    const signed = await signApproval(ca.approvalKey.privateKey, grant());
    const variants = [
      'systemctl restart nginy',
      'systemctl restart nginx ',
      ' systemctl restart nginx',
      'systemctl  restart nginx',
      'systemctl restart nginx\n',
      'systemctl\trestart nginx',
      'systemctl restart ngіnx', // Cyrillic і
      'systemctl rеstart nginx', // Cyrillic е
      'systemctl restart nginx\u200b', // zero-width space
      'systemctl restart nginx; rm -rf /',
    ];
    for (const variant of variants) {
      const err = await refusal(signed.token, options({ command: variant }));
      expect(err.code).toBe('WRONG_COMMAND');
    }
    // None of the refusals used up the nonce: the exact command still runs.
    await expect(verifyApproval(signed.token, options())).resolves.toBeTruthy();
  });

  it('a replayed token, even with a fresh execution of the same command', async () => {
    const nonces = new MemoryNonceStore();
    const signed = await signApproval(ca.approvalKey.privateKey, grant());
    await expect(verifyApproval(signed.token, options({ nonces }))).resolves.toBeTruthy();
    const err = await refusal(signed.token, options({ nonces }));
    expect(err.code).toBe('REPLAYED');
    const again = await signApproval(ca.approvalKey.privateKey, grant());
    await expect(verifyApproval(again.token, options({ nonces }))).resolves.toBeTruthy();
  });

  it('a token of another type signed with the same key', async () => {
    for (const header of [{ typ: 'JWT' }, { typ: 'dropops-session+jwt' }, {}]) {
      const token = await signedWithRealKey(claimsNow(), header);
      expect((await refusal(token)).code).toBe('WRONG_TYPE');
    }
    const foreignIssuer = await signedWithRealKey(claimsNow({ iss: 'someone-else' }), {
      typ: APPROVAL_TOKEN_TYPE,
    });
    expect((await refusal(foreignIssuer)).code).toBe('WRONG_TYPE');
  });

  it('malformed tokens and claims, even when signed', async () => {
    for (const token of ['', 'garbage', 'a.b', 'a.b.c.d', '...', 'x'.repeat(9000)]) {
      expect((await refusal(token)).code).toBe('MALFORMED');
    }
    const typ = { typ: APPROVAL_TOKEN_TYPE };
    const badClaims = [
      claimsNow({ cmd: 'not-a-hash' }),
      claimsNow({ nonce: 'short' }),
      claimsNow({ exe: 'not-a-uuid' }),
      claimsNow({ admin: true }),
      { ...claimsNow(), exp: undefined },
    ];
    for (const claims of badClaims) {
      expect((await refusal(await signedWithRealKey(claims, typ))).code).toBe('MALFORMED');
    }
  });

  it('everything when no usable key is pinned', async () => {
    const signed = await signApproval(ca.approvalKey.privateKey, grant());
    for (const publicKeyPem of ['', 'not a key', generateKeyPair(2048).publicKeyPem]) {
      expect((await refusal(signed.token, options({ publicKeyPem }))).code).toBe('NO_KEY');
    }
  });
});
