import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * The host facts that bind an API key to one machine. Chosen because they are stable across reboots and
 * upgrades but differ between machines, and because copying a `.dropops/` folder does not carry them:
 * - the systemd/D-Bus machine id, made once at install time;
 * - the DMI product UUID of the hardware or VM, where the operator's user may read it (usually root only);
 * - the hostname, only when neither of the above exists (minimal containers).
 * MAC addresses and disks are left out: they change with hot-plugging and cloud re-attachment.
 */
export interface HostIdentitySources {
  machineId: string | null;
  productUuid: string | null;
  hostname: string | null;
}

function readTrimmed(path: string): string | null {
  try {
    const value = readFileSync(path, 'utf8').trim();
    return value || null;
  } catch {
    return null;
  }
}

export function hostIdentitySources(): HostIdentitySources {
  const machineId = readTrimmed('/etc/machine-id') ?? readTrimmed('/var/lib/dbus/machine-id');
  const productUuid = readTrimmed('/sys/class/dmi/id/product_uuid')?.toLowerCase() ?? null;
  return { machineId, productUuid, hostname: machineId || productUuid ? null : hostname() };
}

export function fingerprintOf(sources: HostIdentitySources): string {
  return createHash('sha256')
    .update(`dropops-host-v1\0${JSON.stringify(sources)}`)
    .digest('hex');
}

export const hostFingerprint = () => fingerprintOf(hostIdentitySources());
