import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { AdminClient } from '@dropops/appliance';
import { enroll } from '@dropops/operator';
import { bin, ms, percentile, report, waitForLine, type RelayProcess } from './lib.ts';

/** A new slot, enrolled against `relay` into `workDir/name`. */
export async function enrolledOperator(
  relay: RelayProcess,
  admin: AdminClient,
  name: string,
  workDir: string,
): Promise<{ id: string; dir: string }> {
  const { operator, apiKey } = await admin.call<{ operator: { id: string }; apiKey: string }>(
    'POST',
    '/api/operators',
    { org: 'bench', name },
  );
  const dir = join(workDir, name);
  await enroll({ relay: relay.url, apiKey, caPin: relay.caPin, dir });
  return { id: operator.id, dir };
}

/** `dropops-operator run` for an enrolled operator, as its own process. */
export function startOperator(dir: string) {
  return spawn(bin('dropops-operator'), ['run', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Cold start to connected, round trip relay → operator → relay, and time from revoke-key to the cut. */
export async function benchLink(relay: RelayProcess, workDir: string): Promise<void> {
  const admin = new AdminClient(relay.dataDir);
  const op = await enrolledOperator(relay, admin, 'link-bench', workDir);

  const coldStarts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const child = startOperator(op.dir);
    await waitForLine(child, /connected to the relay/);
    coldStarts.push(performance.now() - started);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  report('operator cold start (spawn of `dropops-operator run` to connected)', {
    runs: coldStarts.length,
    median: ms(percentile(coldStarts, 50)),
    min: ms(Math.min(...coldStarts)),
    max: ms(Math.max(...coldStarts)),
  });

  const child = startOperator(op.dir);
  await waitForLine(child, /connected to the relay/);
  const inRelay: number[] = [];
  const throughApi: number[] = [];
  const rounds = 1000;
  for (let i = 0; i < 50; i++) await admin.call('POST', `/api/operators/${op.id}/ping`);
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const { roundTripMs } = await admin.call<{ roundTripMs: number }>('POST', `/api/operators/${op.id}/ping`);
    throughApi.push(performance.now() - started);
    inRelay.push(roundTripMs);
  }
  report('round trip relay → operator → relay (loopback, idle, sequential)', {
    requests: rounds,
    'p50 (inside the relay)': ms(percentile(inRelay, 50)),
    'p99 (inside the relay)': ms(percentile(inRelay, 99)),
    'p50 (admin REST call, end to end)': ms(percentile(throughApi, 50)),
    'p99 (admin REST call, end to end)': ms(percentile(throughApi, 99)),
  });

  const cut = waitForLine(child, /disconnected from the relay/);
  const started = performance.now();
  await admin.call('POST', `/api/operators/${op.id}/revoke-key`);
  await cut;
  const disconnectMs = performance.now() - started;
  const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  report('revocation (revoke-key call to the live operator cut off)', {
    'time to disconnect': ms(disconnectMs),
    'operator exit code afterwards': String(exit),
  });
}
