import type { RunningAppliance } from '../start.ts';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Resolves at the next SIGTERM or SIGINT. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      for (const s of SIGNALS) process.off(s, on);
      resolve(signal);
    };
    for (const s of SIGNALS) process.on(s, on);
  });
}

/**
 * The `start` command's life: serve until SIGTERM or SIGINT, then drain (operators move to another replica,
 * in-flight work finishes within the grace period) and close. A second signal closes at once.
 */
export async function serveUntilSignalled(
  appliance: Pick<RunningAppliance, 'drain' | 'close'>,
  graceMs: number,
  say: (text: string) => void,
): Promise<void> {
  const first = await nextSignal();
  say(
    `${first}: draining for up to ${graceMs / 1000} s (operators reconnect to another replica); signal again to stop at once.`,
  );
  const forced = nextSignal().then(async (second) => {
    say(`${second}: stopping at once.`);
    await appliance.close();
  });
  const report = await Promise.race([appliance.drain(graceMs), forced.then(() => null)]);
  if (report && !report.clean) {
    say(
      `the grace period ended with work in flight (${JSON.stringify(report.left)}); raise DROPOPS_SHUTDOWN_GRACE_MS if that was cut short.`,
    );
  }
  // Everything the relay owns is closed. A socket a driver left behind must not keep the process alive:
  // postgres.js can orphan a connection it reopened while PostgreSQL restarted (porsager/postgres#1097).
  setTimeout(() => process.exit(), 2_000).unref();
}
