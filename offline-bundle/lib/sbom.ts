// A CycloneDX 1.5 SBOM of what the operator bundle really carries: the packages esbuild put into the one
// file (from its metafile), the packages shipped beside it, and the Node runtime. `npm sbom` describes the
// dependency tree instead (dev tools, unused optional packages) and needs a versioned workspace root.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { repoRoot } from './paths.ts';

interface PackageJson {
  name: string;
  version: string;
  license?: string;
  dependencies?: Record<string, string>;
}

interface LockEntry {
  integrity?: string;
  resolved?: string;
}

interface Component {
  type: 'library' | 'platform' | 'application';
  'bom-ref': string;
  group?: string;
  name: string;
  version: string;
  description?: string;
  purl?: string;
  licenses?: { expression: string }[];
  hashes?: { alg: 'SHA-256' | 'SHA-512'; content: string }[];
  externalReferences?: { type: 'distribution'; url: string }[];
}

/** The package directory (relative to the repository) that a bundled source file belongs to. */
export function packageRootOf(file: string): string | undefined {
  const at = file.lastIndexOf('node_modules/');
  if (at >= 0) {
    const rest = file.slice(at + 'node_modules/'.length).split('/');
    const depth = rest[0]!.startsWith('@') ? 2 : 1;
    return file.slice(0, at) + 'node_modules/' + rest.slice(0, depth).join('/');
  }
  // A workspace source (operator/src/..., pki/src/...): the workspace is the package.
  const workspace = file.split('/')[0]!;
  return existsSync(join(repoRoot, workspace, 'package.json')) ? workspace : undefined;
}

const purlOf = (pkg: PackageJson) => `pkg:npm/${pkg.name.replace(/^@/, '%40')}@${pkg.version}`;

/** npm's `sha512-<base64>` integrity as a CycloneDX hash. */
function hashesOf(lock: LockEntry | undefined): Component['hashes'] {
  const match = /^sha512-(.+)$/.exec(lock?.integrity ?? '');
  return match ? [{ alg: 'SHA-512', content: Buffer.from(match[1]!, 'base64').toString('hex') }] : undefined;
}

export interface SbomInput {
  metafile: Metafile;
  /** The bundle itself, as the SBOM's subject. */
  subject: { name: string; version: string };
  /** Package directories (relative to the repository) shipped next to the bundle, as `node_modules/x`. */
  shipped: string[];
  runtime: { version: string; sha256: string };
  tool: { name: string; version: string };
}

export function operatorSbom(input: SbomInput): object {
  const lockfile = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const components = new Map<string, Component>();
  const refOfRoot = new Map<string, string>();
  const edges = new Map<string, Set<string>>();

  const addPackage = (root: string): string => {
    const known = refOfRoot.get(root);
    if (known) return known;
    const pkg = JSON.parse(readFileSync(join(repoRoot, root, 'package.json'), 'utf8')) as PackageJson;
    const purl = purlOf(pkg);
    const [group, name] = pkg.name.startsWith('@') ? pkg.name.split('/') : [undefined, pkg.name];
    const lock = lockfile.packages[root];
    components.set(purl, {
      type: 'library',
      'bom-ref': purl,
      ...(group ? { group } : {}),
      name: name!,
      version: pkg.version,
      purl,
      ...(pkg.license ? { licenses: [{ expression: pkg.license }] } : {}),
      ...(hashesOf(lock) ? { hashes: hashesOf(lock) } : {}),
      ...(lock?.resolved?.startsWith('http')
        ? { externalReferences: [{ type: 'distribution' as const, url: lock.resolved }] }
        : {}),
    });
    refOfRoot.set(root, purl);
    return purl;
  };
  const depend = (from: string, to: string) => {
    if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
  };

  const shippedByName = new Map<string, string>();
  for (const root of input.shipped) {
    const ref = addPackage(root);
    shippedByName.set(root.slice(root.lastIndexOf('node_modules/') + 'node_modules/'.length), ref);
  }
  for (const root of input.shipped) {
    const pkg = JSON.parse(readFileSync(join(repoRoot, root, 'package.json'), 'utf8')) as PackageJson;
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      const ref = shippedByName.get(dep);
      if (ref) depend(refOfRoot.get(root)!, ref);
    }
  }

  // Package-level edges from the file-level import graph esbuild recorded.
  for (const [file, meta] of Object.entries(input.metafile.inputs)) {
    const root = packageRootOf(file);
    if (!root) continue;
    const from = addPackage(root);
    for (const imported of meta.imports) {
      const target = imported.external ? shippedByName.get(imported.path) : undefined;
      const toRoot = imported.external ? undefined : packageRootOf(imported.path);
      const to = target ?? (toRoot ? addPackage(toRoot) : undefined);
      if (to) depend(from, to);
    }
  }

  const subjectRef = `${input.subject.name}@${input.subject.version}`;
  const runtime: Component = {
    type: 'platform',
    'bom-ref': `pkg:generic/node@${input.runtime.version}`,
    name: 'node',
    version: input.runtime.version,
    description: 'the Node.js runtime, copied from the build host',
    purl: `pkg:generic/node@${input.runtime.version}`,
    licenses: [{ expression: 'MIT' }],
    hashes: [{ alg: 'SHA-256', content: input.runtime.sha256 }],
  };
  components.set(runtime['bom-ref'], runtime);
  const operatorRef = refOfRoot.get('operator');
  depend(subjectRef, runtime['bom-ref']);
  if (operatorRef) depend(subjectRef, operatorRef);

  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: new Date().toISOString(),
      tools: { components: [{ type: 'application', name: input.tool.name, version: input.tool.version }] },
      component: {
        type: 'application',
        'bom-ref': subjectRef,
        name: input.subject.name,
        version: input.subject.version,
      },
    },
    components: [...components.values()].sort((a, b) => a['bom-ref'].localeCompare(b['bom-ref'])),
    dependencies: [...edges.entries()]
      .map(([ref, dependsOn]) => ({ ref, dependsOn: [...dependsOn].sort() }))
      .sort((a, b) => a.ref.localeCompare(b.ref)),
  };
}
