import { copyFile, chmod, mkdir, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, version as esbuildVersion, type Metafile } from 'esbuild';
import { caFiles, loadBundleSigningKey, spkiPin, type BundleSigningKey } from '@dropops/pki';
import { BundleError } from './errors.ts';
import { sha256File } from './manifest.ts';
import { copyNativeAddon, EXTERNAL_PACKAGES } from './native-addon.ts';
import { sealBundle, stage } from './output.ts';
import { repoRoot } from './paths.ts';
import { megabytes, stepProgress, type Progress } from './progress.ts';
import { operatorSbom } from './sbom.ts';
import { shellQuote, writeTemplate } from './templates.ts';

export interface OperatorBundleOptions {
  /** Where the bundle directory and its .tar.gz are written. */
  outDir: string;
  /** The signing appliance's CA directory (`<data-dir>/pki`). */
  caDir: string;
  /** The URL operators dial, built into install.sh's defaults; optional. */
  relay?: string;
  progress?: Progress;
}

export interface OperatorBundle {
  dir: string;
  archive: string;
  archiveBytes: number;
  files: number;
  bytes: number;
  caPin: string;
  fingerprint: string;
  nodeVersion: string;
  seconds: number;
}

const STEPS = 7;
/** The bundle is one ES module; CommonJS dependencies in it still call `require` for Node's built-ins. */
const REQUIRE_SHIM =
  "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);";

/** The names of Node's build options that mean "linked against the system's copy": the target needs it too. */
function sharedLibraries(): string[] {
  const variables = process.config.variables as unknown as Record<string, unknown>;
  return Object.keys(variables)
    .filter((key) => /^node_shared(_|$)/.test(key) && variables[key] === true)
    .map((key) => key.replace(/^node_shared_?/, '') || 'libnode');
}

export function checkRelayUrl(relay: string): string {
  let url: URL;
  try {
    url = new URL(relay);
  } catch {
    throw new BundleError(
      'BAD_ARGUMENT',
      `--relay "${relay}" is not a URL; write it as https://relay.example:8443.`,
    );
  }
  if (url.protocol !== 'https:') {
    throw new BundleError('BAD_ARGUMENT', `--relay must be an https:// URL (got ${url.protocol}).`);
  }
  return url.origin;
}

/** The appliance's root pin and bundle-signing key, or a sentence saying how to get a CA directory. */
export function readSigningAppliance(caDir: string): { caPin: string; key: BundleSigningKey } {
  const files = caFiles(caDir);
  if (!existsSync(files.meta) || !existsSync(files.rootCert)) {
    throw new BundleError(
      'CA_MISSING',
      `no appliance CA in ${caDir}. Give --ca-dir the relay's <data-dir>/pki, which the appliance creates on ` +
        'its first start (`npm start` makes .dropops-appliance/pki; from a compose install copy out ca.json, ' +
        'root.crt.pem and the bundle-signing key as docs/INSTALL.md, "The signing key", shows), or create one ' +
        `with \`dropops-pki init --dir ${caDir}\`.`,
    );
  }
  return {
    caPin: `sha256/${spkiPin(readFileSync(files.rootCert, 'utf8'))}`,
    key: loadBundleSigningKey(caDir),
  };
}

async function bundleOperator(outfile: string): Promise<Metafile> {
  try {
    const result = await build({
      absWorkingDir: repoRoot,
      entryPoints: [join(repoRoot, 'offline-bundle', 'operator-entry.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      external: EXTERNAL_PACKAGES,
      banner: { js: REQUIRE_SHIM },
      metafile: true,
      // esbuild prints its own warnings and errors (with the source line) to stderr.
      logLevel: 'warning',
    });
    return result.metafile;
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { file: string; line: number } }[] })
      .errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new BundleError(
      'BUILD_FAILED',
      `esbuild could not bundle the operator: ${first?.text ?? String(err)}${where}`,
    );
  }
}

/** Builds `dropops-operator-<version>-<os>-<arch>/` and its .tar.gz: runtime, one-file operator, signed. */
export async function buildOperatorBundle(options: OperatorBundleOptions): Promise<OperatorBundle> {
  const started = performance.now();
  const progress = options.progress ?? stepProgress(STEPS);
  const relay = options.relay === undefined ? undefined : checkRelayUrl(options.relay);
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'operator', 'package.json'), 'utf8')) as {
    version: string;
  };
  const platform = `${process.platform}-${process.arch}`;
  const name = `dropops-operator-${version}-${platform}`;

  const { caPin, key } = await progress.step(
    `reading the appliance's CA pin and bundle-signing key from ${options.caDir}`,
    () => readSigningAppliance(options.caDir),
    (r) => `signing key ${r.key.fingerprint}`,
  );
  const out = await stage(options.outDir, name);
  try {
    const dir = out.dir;
    await mkdir(join(dir, 'lib'));
    const metafile = await progress.step(
      'bundling the operator into lib/operator.mjs (esbuild)',
      () => bundleOperator(join(dir, 'lib', 'operator.mjs')),
      (m) =>
        `${Object.keys(m.inputs).length} source files, ` +
        megabytes(Object.values(m.outputs).reduce((sum, o) => sum + o.bytes, 0)),
    );
    const nodeSha256 = await progress.step(
      `copying the Node.js ${process.version} runtime from ${process.execPath}`,
      async () => {
        await copyFile(process.execPath, join(dir, 'node'));
        await chmod(join(dir, 'node'), 0o755);
        return sha256File(join(dir, 'node'));
      },
    );
    const shared = sharedLibraries();
    if (shared.length) {
      progress.note(
        `warning: this Node.js is linked against the system's ${shared.join(', ')}; the target needs the same ` +
          'libraries. An official build from nodejs.org has none.',
      );
    }
    const shipped = await progress.step('adding better-sqlite3 and its native addon', () =>
      copyNativeAddon(dir),
    );
    await progress.step('writing the scripts, bundle.env, bundle.json and the SBOM', async () => {
      // `facts.ts` reads the operator's version from `../package.json` relative to the bundled module.
      await writeFile(
        join(dir, 'package.json'),
        JSON.stringify({ name: '@dropops/operator', version, private: true }, null, 2) + '\n',
      );
      await writeFile(
        join(dir, 'bundle.env'),
        `# Read by install.sh. Covered by MANIFEST.sha256 like every file here.\n` +
          `DROPOPS_BUNDLE_CA_PIN=${shellQuote(caPin)}\nDROPOPS_BUNDLE_RELAY=${shellQuote(relay ?? '')}\n`,
      );
      const manifest = {
        kind: 'dropops-operator',
        version,
        platform,
        node: { version: process.version, copiedFrom: process.execPath, sharedLibraries: shared },
        entry: 'lib/operator.mjs',
        relay: relay ?? null,
        caPin,
        signingKey: key.fingerprint,
        builtAt: new Date().toISOString(),
        esbuild: esbuildVersion,
      };
      await writeFile(join(dir, 'bundle.json'), JSON.stringify(manifest, null, 2) + '\n');
      const sbom = operatorSbom({
        metafile,
        subject: { name: 'dropops-operator', version },
        shipped,
        runtime: { version: process.versions.node, sha256: nodeSha256 },
        tool: { name: 'esbuild', version: esbuildVersion },
      });
      await writeFile(join(dir, 'sbom.cdx.json'), JSON.stringify(sbom, null, 2) + '\n');
      for (const script of ['verify.sh', 'install.sh', 'run.sh'])
        await writeTemplate(script, join(dir, script));
      await writeTemplate('operator-README.txt', join(dir, 'README.txt'), {
        VERSION: version,
        PLATFORM: platform,
        NODE_VERSION: process.version,
        RELAY_NOTE: relay ? ` and the relay URL (${relay})` : ' (no relay URL: give install.sh --relay)',
      });
    });
    const sealed = await sealBundle(out, key, progress, true);
    return {
      ...sealed,
      caPin,
      fingerprint: key.fingerprint,
      nodeVersion: process.version,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await out.abandon();
    throw err;
  }
}
