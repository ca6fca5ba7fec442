import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { signManifest, type BundleSigningKey } from '@dropops/pki';
import { BundleError } from './errors.ts';

/** The names verify.sh knows: the signed list of sums, its signature, and the key to check it with. */
export const MANIFEST = 'MANIFEST.sha256';
export const SIGNATURE = 'MANIFEST.sha256.sig';
export const PUBLIC_KEY = 'signing-key.pub.pem';

/**
 * Every file under `dir`, as sorted relative paths. Only regular files with names that sha256sum prints
 * verbatim are accepted (no backslash, line break or edge spaces), so the manifest means what it says.
 */
export async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      const rel = relative(dir, path).split(sep).join('/');
      if (/[\\\n\r]/.test(entry.name) || entry.name !== entry.name.trim()) {
        throw new BundleError('BAD_ARGUMENT', `"${rel}" has a name the manifest cannot carry; rename it.`);
      }
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push(rel);
      else
        throw new BundleError(
          'BAD_ARGUMENT',
          `${rel} is not a regular file (a link?); copy the file itself.`,
        );
    }
  };
  await walk(dir);
  return files.sort();
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export interface SignedManifest {
  files: number;
  bytes: number;
}

/** Writes the public key, then MANIFEST.sha256 over every file (sha256sum format) and its Ed25519 signature. */
export async function writeSignedManifest(dir: string, key: BundleSigningKey): Promise<SignedManifest> {
  await writeFile(join(dir, PUBLIC_KEY), key.publicKeyPem, { mode: 0o644 });
  const files = await listFiles(dir);
  if (files.includes(MANIFEST) || files.includes(SIGNATURE)) {
    throw new BundleError('BAD_ARGUMENT', `the bundle already holds a ${MANIFEST}; it is written last.`);
  }
  let bytes = 0;
  const lines: string[] = [];
  for (const file of files) {
    lines.push(`${await sha256File(join(dir, file))}  ${file}\n`);
    bytes += (await lstat(join(dir, file))).size;
  }
  const manifest = Buffer.from(lines.join(''));
  await writeFile(join(dir, MANIFEST), manifest, { mode: 0o644 });
  await writeFile(join(dir, SIGNATURE), signManifest(key, manifest), { mode: 0o644 });
  return { files: files.length, bytes };
}
