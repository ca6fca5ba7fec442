import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { caFiles } from './files.ts';

/** Serials compare as lowercase hex without leading zeros, whichever tool printed them. */
export function normaliseSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error(`"${serial}" is not a hexadecimal serial number`);
  return hex.replace(/^0+(?=.)/, '');
}

type RevocationList = Record<string, string>;

export function readRevocations(dir: string): RevocationList {
  const path = caFiles(dir).revoked;
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, 'utf8')) as RevocationList;
}

export function isRevoked(dir: string, serial: string): boolean {
  return normaliseSerial(serial) in readRevocations(dir);
}

/** Adds serials to the CA's revocation list; written to a temporary file and renamed, so a reader never sees half a list. */
export function revokeSerials(dir: string, serials: string[], at = new Date()): string[] {
  const list = readRevocations(dir);
  const added: string[] = [];
  for (const raw of serials) {
    const serial = normaliseSerial(raw);
    if (!(serial in list)) {
      list[serial] = at.toISOString();
      added.push(serial);
    }
  }
  if (added.length > 0) {
    const path = caFiles(dir).revoked;
    writeFileSync(`${path}.tmp`, JSON.stringify(list, null, 2) + '\n', { mode: 0o644 });
    renameSync(`${path}.tmp`, path);
  }
  return added;
}
