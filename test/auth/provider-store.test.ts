import { cpSync, readFileSync, statSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startAppliance, type RunningAppliance } from '@dropops/appliance';
import { DatabaseAdapter } from '../../appliance/src/auth/embedded/adapter.ts';
import { EMBEDDED_CLIENT_ID } from '../../appliance/src/auth/embedded/provider.ts';
import { providerSecretsPath } from '../../appliance/src/auth/embedded/provider-secrets.ts';
import { sessionKeyPath } from '../../appliance/src/sessions/sealing.ts';
import { tempDir } from '../helpers.ts';
import { capturedLogger, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import type { Browser, Page } from '../support/browser.ts';
import { freePort } from '../support/private-services.ts';
import { backends, isolatedSchema, type Backend } from '../support/services.ts';
import {
  changeOneTimePassword,
  firstSignIn,
  newBrowser,
  openLoginPage,
  submit,
  whoAmI,
} from '../support/sign-in-flow.ts';

const NEW_PASSWORD = 'a passphrase that survives restarts';

/** Follows redirects hop by hop and stops at the one that would reach `pathname`, without going there. */
async function goUntil(browser: Browser, from: Page, pathname: string): Promise<string> {
  let hop = from;
  while (hop.location && new URL(hop.location).pathname !== pathname) hop = await browser.go(hop.location);
  expect(
    hop.location,
    `no redirect to ${pathname} after ${hop.url}: ${hop.text.slice(0, 300)}`,
  ).toBeDefined();
  return hop.location!;
}

describe.each(backends())('the embedded provider across a restart (%s)', (backend: Backend) => {
  const work = tempDir();
  const browsers: Browser[] = [];
  let relay: RunningAppliance | undefined;
  let schema: Awaited<ReturnType<typeof isolatedSchema>> | undefined;
  let start: () => Promise<RunningAppliance>;
  const dataDir = join(work.path, 'data');

  beforeAll(async () => {
    schema = backend === 'postgresql' ? await isolatedSchema() : undefined;
    // The same port each time: the issuer and the redirect URI are the relay's URL, as behind a fixed name.
    const config = loadConfig(
      {
        dataDir,
        port: await freePort(),
        databaseUrl: backend === 'postgresql' ? process.env.DATABASE_URL : undefined,
      },
      {},
    );
    start = () =>
      startAppliance(config, {
        databaseConnection: schema?.connection,
        logger: capturedLogger('appliance').logger,
      });
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await relay?.close();
    await schema?.drop();
    work.remove();
  });

  const restart = async () => {
    await relay?.close();
    relay = await start();
    return relay;
  };
  const jwks = async (url: string) => {
    const b = newBrowser(dataDir);
    browsers.push(b);
    return (await b.go(`${url}/oidc/jwks`)).json();
  };

  it('finishes a sign-in begun before a restart, and another whose code is redeemed after one', async () => {
    let running = await restart();
    const keysBefore = await jwks(running.url);
    const b = newBrowser(dataDir);
    browsers.push(b);
    // Restart while the password page is open: the interaction and its signed cookie must still be good.
    const login = await openLoginPage(b, running.url);
    running = await restart();
    const finished = await changeOneTimePassword(b, login, running.signIn.firstAdminPassword!, NEW_PASSWORD);
    // Restart again with the authorization code on its way to the relay: the code, its grant and the client
    // secret must all be the same after it.
    const callback = await goUntil(b, finished, '/auth/callback');
    running = await restart();
    const landed = await b.go(callback);
    expect(landed.status, landed.text).toBe(200);
    expect((await whoAmI(b, running.url)).user.name).toBe('admin');

    expect(await jwks(running.url)).toEqual(keysBefore);
    expect(statSync(providerSecretsPath(dataDir)).mode & 0o777).toBe(0o600);
  });
});

/** Redeems a code at the provider's token endpoint as the relay does: client secret by Basic, PKCE verifier. */
function redeem(client: Browser, relay: TestAppliance, code: string, verifier: string) {
  const { clientSecret } = JSON.parse(readFileSync(providerSecretsPath(relay.dataDir), 'utf8')) as {
    clientSecret: string;
  };
  const basic = Buffer.from(`${EMBEDDED_CLIENT_ID}:${clientSecret}`).toString('base64');
  return client.go(`${relay.url}/oidc/token`, {
    headers: { authorization: `Basic ${basic}` },
    form: {
      grant_type: 'authorization_code',
      code,
      redirect_uri: `${relay.url}/auth/callback`,
      code_verifier: verifier,
    },
  });
}

describe.each(backends())('authorization codes and grants in the database (%s)', (backend: Backend) => {
  let relay: TestAppliance;
  const browsers: Browser[] = [];
  const browser = () => {
    const b = newBrowser(relay.dataDir);
    browsers.push(b);
    return b;
  };

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    await firstSignIn(browser(), relay.url, relay.signIn.firstAdminPassword!, NEW_PASSWORD);
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await relay?.stop();
  });

  /** A fresh code for the relay's client, with our own PKCE verifier, from a browser that signs in. */
  async function authorizationCode(): Promise<{ code: string; verifier: string }> {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const query = new URLSearchParams({
      client_id: EMBEDDED_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${relay.url}/auth/callback`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: randomBytes(16).toString('base64url'),
      nonce: randomBytes(16).toString('base64url'),
    });
    const b = browser();
    const { page: login } = await b.follow(`${relay.url}/oidc/auth?${query}`);
    expect(login.text).toContain('name="password"');
    const finished = await submit(b, login, { username: 'admin', password: NEW_PASSWORD });
    const callback = new URL(await goUntil(b, finished, '/auth/callback'));
    return { code: callback.searchParams.get('code')!, verifier };
  }

  it('redeems a code once; a second redemption is refused and revokes what the first one got', async () => {
    const client = browser();
    const { code, verifier } = await authorizationCode();
    const first = await redeem(client, relay, code, verifier);
    expect(first.status, first.text).toBe(200);
    const { access_token: accessToken } = first.json<{ access_token: string }>();
    const userinfo = () =>
      client.go(`${relay.url}/oidc/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect((await userinfo()).status).toBe(200);

    const second = await redeem(client, relay, code, verifier);
    expect(second.status).toBe(400);
    expect(second.json<{ error: string }>().error).toBe('invalid_grant');
    // A replayed code means it leaked: oidc-provider revokes the grant's tokens through revokeByGrantId.
    expect((await userinfo()).status).toBe(401);
    const left = await relay.db.sql`
      SELECT 1 FROM oidc_provider_store WHERE model = 'AccessToken' AND payload->>'jti' = ${accessToken}`;
    expect(left.length).toBe(0);
  });

  it('gives tokens to only one of two redemptions of the same code sent at once', async () => {
    const { code, verifier } = await authorizationCode();
    const answers = await Promise.all([
      redeem(browser(), relay, code, verifier),
      redeem(browser(), relay, code, verifier),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
    expect(answers.find((a) => a.status === 400)!.json<{ error: string }>().error).toBe('invalid_grant');
  });

  it('reads expired rows as absent and lets the cleanup job delete them', async () => {
    const store = (model: string) => new DatabaseAdapter(relay.db.sql, model);
    const code = store('AuthorizationCode');
    await code.upsert('expired-code', { jti: 'expired-code', grantId: 'g-expired' }, -1);
    await code.upsert('live-code', { jti: 'live-code', grantId: 'g-live' }, 600);
    expect(await code.find('expired-code')).toBeUndefined();
    await expect(code.consume('expired-code')).rejects.toMatchObject({ error: 'invalid_grant' });

    // consume marks once; the mark survives a later upsert of the same id.
    await code.consume('live-code');
    expect((await code.find('live-code'))?.consumed).toEqual(expect.any(Number));
    await expect(code.consume('live-code')).rejects.toMatchObject({
      error: 'invalid_grant',
      error_detail: 'AuthorizationCode already consumed or expired',
    });
    await code.upsert('live-code', { jti: 'live-code', grantId: 'g-live' }, 600);
    expect((await code.find('live-code'))?.consumed).toEqual(expect.any(Number));

    // Sessions by uid; revokeByGrantId takes only that model's rows of that grant.
    const session = store('Session');
    await session.upsert('session-jti', { jti: 'session-jti', uid: 'session-uid' }, 600);
    expect((await session.findByUid('session-uid'))?.jti).toBe('session-jti');
    const token = store('AccessToken');
    await token.upsert('token-live', { jti: 'token-live', grantId: 'g-live' }, 600);
    await token.revokeByGrantId('g-live');
    expect(await token.find('token-live')).toBeUndefined();
    expect(await code.find('live-code')).toBeDefined();
    await session.destroy('session-jti');
    expect(await session.findByUid('session-uid')).toBeUndefined();

    expect(relay.jobs.cleanup.names()).toEqual(
      expect.arrayContaining(['console-sessions', 'sign-in-flows', 'oidc-provider-store']),
    );
    const removed = await relay.jobs.cleanup.run();
    expect(removed['oidc-provider-store']).toBeGreaterThanOrEqual(1);
    const rows = await relay.db.sql`SELECT 1 FROM oidc_provider_store WHERE id = 'expired-code'`;
    expect(rows.length).toBe(0);
  });
});

// Two replicas with copies of one data dir (as on two machines) on one PostgreSQL: what one provider
// started, the other continues.
describe.skipIf(!backends().includes('postgresql'))('the embedded provider on two replicas', () => {
  const work = tempDir();
  let replicaA: TestAppliance;
  let replicaB: RunningAppliance;
  const browsers: Browser[] = [];

  beforeAll(async () => {
    replicaA = await startTestAppliance('postgresql');
    const dataDirB = join(work.path, 'replica-b');
    cpSync(join(replicaA.dataDir, 'pki'), join(dataDirB, 'pki'), { recursive: true });
    for (const file of [sessionKeyPath, providerSecretsPath]) {
      cpSync(file(replicaA.dataDir), file(dataDirB));
    }
    replicaB = await startAppliance(
      loadConfig({ dataDir: dataDirB, port: 0, databaseUrl: process.env.DATABASE_URL }, {}),
      { databaseConnection: replicaA.databaseConnection, logger: capturedLogger('replica-b').logger },
    );
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await replicaB?.close();
    await replicaA?.stop();
    work.remove();
  });

  it('serves the same keys, and finishes on A a sign-in whose password was checked by B', async () => {
    const b = newBrowser(replicaA.dataDir);
    browsers.push(b);
    const [keysA, keysB] = await Promise.all(
      [replicaA.url, replicaB.url].map(async (url) => (await b.go(`${url}/oidc/jwks`)).json()),
    );
    expect(keysB).toEqual(keysA);

    // One name for both, as behind a load balancer: the browser's cookies go to either replica.
    const hostA = new URL(replicaA.url).host;
    const hostB = new URL(replicaB.url).host;
    const shareCookies = (from: string, to: string) => {
      for (const cookie of b.jar.filter((c) => c.host === from)) {
        const index = b.jar.findIndex(
          (c) => c.host === to && c.name === cookie.name && c.path === cookie.path,
        );
        if (index >= 0) b.jar.splice(index, 1);
        b.jar.push({ ...cookie, host: to });
      }
    };
    const login = await openLoginPage(b, replicaA.url);
    shareCookies(hostA, hostB);
    // Replica B started last, so its one-time password is the one that counts.
    const atB = { ...login, url: login.url.replace(hostA, hostB) };
    const finished = await changeOneTimePassword(b, atB, replicaB.signIn.firstAdminPassword!, NEW_PASSWORD);
    expect(finished.status, finished.text).toBe(303);
    expect(new URL(finished.location!).host).toBe(hostA);
    shareCookies(hostB, hostA);
    const callback = await goUntil(b, finished, '/auth/callback');
    expect((await b.go(callback)).status).toBe(200);
    expect((await whoAmI(b, replicaA.url)).user.name).toBe('admin');
  });
});
