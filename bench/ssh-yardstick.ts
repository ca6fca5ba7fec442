import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ms, percentile, report } from './lib.ts';

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd';

/**
 * The yardstick: the same round trip through a multiplexed OpenSSH connection to a loopback sshd.
 * Measured two ways: a new `ssh -S` client per command (how ControlMaster is used), and a line echoed
 * through an already open channel (the least ssh can do).
 */
export async function benchSshYardstick(workDir: string): Promise<void> {
  if (!existsSync(SSHD)) {
    report('ssh ControlMaster yardstick', {
      skipped: 'no /usr/sbin/sshd; `apt-get install openssh-server` to measure it',
    });
    return;
  }
  const dir = join(workDir, 'ssh');
  await run('mkdir', ['-p', dir]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  await run('cp', [join(dir, 'client_key.pub'), join(dir, 'authorized_keys')]);
  const port = 20000 + Math.floor(Math.random() * 10000);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      '',
    ].join('\n'),
  );
  await run('mkdir', ['-p', '/run/sshd']);
  const sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  const control = join(dir, 'control');
  const common = [
    '-p',
    String(port),
    '-i',
    join(dir, 'client_key'),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    `ControlPath=${control}`,
  ];
  try {
    for (let i = 0; i < 50; i++) {
      try {
        await run('ssh', [
          ...common,
          '-o',
          'ControlMaster=yes',
          '-o',
          'ControlPersist=60',
          '-o',
          'BatchMode=yes',
          'root@127.0.0.1',
          'true',
        ]);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const perCommand: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      await run('ssh', [...common, 'root@127.0.0.1', 'true']);
      perCommand.push(performance.now() - started);
    }
    const channel = spawn('ssh', [...common, 'root@127.0.0.1', 'cat'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const lines = createInterface({ input: channel.stdout! });
    const echo: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        lines.once('line', () => resolve());
        channel.stdin!.write(`ping ${i}\n`);
      });
      echo.push(performance.now() - started);
    }
    channel.kill();
    report('ssh ControlMaster yardstick (loopback OpenSSH)', {
      'new `ssh -S` client per command, p50': ms(percentile(perCommand, 50)),
      'new `ssh -S` client per command, p99': ms(percentile(perCommand, 99)),
      'echo through an open channel, p50': ms(percentile(echo, 50)),
      'echo through an open channel, p99': ms(percentile(echo, 99)),
    });
  } finally {
    await run('ssh', [...common, '-O', 'exit', 'root@127.0.0.1']).catch(() => {});
    sshd.kill();
  }
}
