import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import type { Browser } from '../support/browser.ts';
import { errorOf, firstSignIn, newBrowser, signedInUser, whoAmI } from '../support/sign-in-flow.ts';

const NEW_PASSWORD = 'a long enough passphrase';

describe('session idle expiry', () => {
  let relay: TestAppliance;
  let b: Browser;

  beforeAll(async () => {
    relay = await startTestAppliance('pglite', { sessionIdleSeconds: 2 });
    b = newBrowser(relay.dataDir);
  });
  afterAll(async () => {
    await b?.close();
    await relay?.stop();
  });

  it('ends a session left without requests for longer than the idle timeout', async () => {
    await firstSignIn(b, relay.url, relay.signIn.firstAdminPassword!, NEW_PASSWORD);
    const me = await whoAmI(b, relay.url);
    expect(Date.parse(me.idleExpiresAt) - Date.parse(me.expiresAt)).toBeLessThan(0);
    // Wait, without touching the session, until the database says it has been idle that long.
    await eventually(async () => {
      const [row] = await relay.db.sql<{ idle: boolean }[]>`
        SELECT last_seen_at < now() - interval '2 seconds' AS idle FROM console_sessions`;
      return row?.idle;
    }, 'the session to sit idle for 2 s');
    const expired = await b.go(`${relay.url}/api/session`);
    expect(expired.status).toBe(401);
    expect(errorOf(expired).code).toBe('UNAUTHENTICATED');
    expect(errorOf(expired).message).toContain('expired');
    const rows = await relay.db.sql`SELECT 1 FROM console_sessions`;
    expect(rows.length).toBe(0);
  });
});

describe('a console socket that only listens', () => {
  let relay: TestAppliance;
  let b: Browser;

  beforeAll(async () => {
    // The clean-up sweep runs every 200 ms here instead of every minute.
    relay = await startTestAppliance('pglite', { sessionIdleSeconds: 2, sweepIntervalMs: 200 });
    b = newBrowser(relay.dataDir);
  });
  afterAll(async () => {
    await b?.close();
    await relay?.stop();
  });

  it('is cut off once its session has sat idle past the timeout, though it never sent an event', async () => {
    await firstSignIn(b, relay.url, relay.signIn.firstAdminPassword!, NEW_PASSWORD);
    const user = await signedInUser(b, relay);
    const socket = await user.socket();
    const closed = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
    // Silent from here on: only the sweep can notice that the session has expired.
    expect(await closed).toBe('io server disconnect');
    const rows = await relay.db.sql`SELECT 1 FROM console_sessions`;
    expect(rows.length).toBe(0);
    await user.close();
  });
});

describe('rate limits', () => {
  let relay: TestAppliance;
  let b: Browser;

  beforeAll(async () => {
    relay = await startTestAppliance('pglite', { rateLimitIpPerMinute: 60, rateLimitUserPerMinute: 5 });
    b = newBrowser(relay.dataDir);
  });
  afterAll(async () => {
    await b?.close();
    await relay?.stop();
  });

  it('limits a signed-in user, then an address, with 429 and Retry-After; the admin token is not limited', async () => {
    await firstSignIn(b, relay.url, relay.signIn.firstAdminPassword!, NEW_PASSWORD);
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 10 && !limited; i++) {
      const page = await b.go(`${relay.url}/api/session`);
      statuses.push(page.status);
      if (page.status === 429) limited = page;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(limited, `statuses ${statuses}`).toBeDefined();
    expect(errorOf(limited!).code).toBe('RATE_LIMITED');
    expect(errorOf(limited!).message).toContain('your account');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);

    let addressLimited;
    for (let i = 0; i < 80 && !addressLimited; i++) {
      const page = await b.go(`${relay.url}/healthz`);
      if (page.status === 429) addressLimited = page;
    }
    expect(addressLimited).toBeDefined();
    expect(errorOf(addressLimited!).message).toContain('this address');
    // The same address with the admin token still gets through.
    for (let i = 0; i < 3; i++) {
      expect((await relay.admin.call<{ operators: unknown[] }>('GET', '/api/operators')).operators).toEqual(
        [],
      );
    }
  });
});
