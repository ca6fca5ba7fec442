import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, platform, release, totalmem, uptime } from 'node:os';
import type { HostFacts } from '@dropops/protocol';

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function hostFacts(): HostFacts {
  return {
    hostname: hostname(),
    platform: platform(),
    release: release(),
    arch: arch(),
    cpus: cpus().length,
    totalMemoryBytes: totalmem(),
    uptimeSeconds: uptime(),
    operatorVersion: version,
    nodeVersion: process.versions.node,
  };
}
