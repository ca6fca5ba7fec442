import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// The vendored schema declares JSON Schema draft-07, which is Ajv's default class.
import { Ajv } from 'ajv';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../appliance/src/config.ts';
import { ENV_SPEC } from '../../scripts/check-env.ts';
import { repoRoot } from '../helpers.ts';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  ports?: string[];
  environment?: Record<string, string>;
  env_file?: string;
  healthcheck?: { test: string[] };
  read_only?: boolean;
  tmpfs?: string[];
  volumes?: string[];
  cap_drop?: string[];
  network_mode?: string;
  stop_grace_period?: string;
  networks?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
}

const composeText = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText) as ComposeFile;
const services = compose.services;
const schema = JSON.parse(readFileSync(join(repoRoot, 'compose/schema/compose-spec.json'), 'utf8')) as {
  $schema: string;
};
const ajv = new Ajv({ allErrors: true });
// Ajv knows draft-07 by its http:// id; the schema names it https://json-schema.org/draft-07/schema.
ajv.addMetaSchema({ ...draft07, $id: schema.$schema });
const validate = ajv.compile(schema);

const ONE_SHOTS = ['check-env', 'pki-init'];
const LONG_RUNNING = Object.keys(services).filter((name) => !ONE_SHOTS.includes(name));
/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}`; `$${...}` is an escaped dollar for the container. */
const references = [...composeText.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}/g)].map((m) => ({
  name: m[1]!,
  hasDefault: (m[2] ?? '').replace(':', '').startsWith('-'),
}));

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('uses the draft the schema declares', () => {
    expect(schema.$schema).toMatch(/draft-07/);
  });

  it('is valid', () => {
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('rejects a broken copy (the validator can fail)', () => {
    const broken = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    broken.services.relay!.depends_on = { postgres: { condition: 'service_ready' } };
    broken.services.relay!.restartt = 'always';
    expect(validate(broken)).toBe(false);
    const complaints = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('\n');
    expect(complaints).toMatch(/condition must be equal to one of the allowed values/);
    expect(complaints).toMatch(/must NOT have additional properties/);
  });
});

describe('what docker-compose.yml exposes and runs', () => {
  it("publishes only the relay's one HTTPS port and Keycloak's HTTPS port", () => {
    const publishing = Object.entries(services)
      .filter(([, s]) => s.ports?.length)
      .map(([name]) => name)
      .sort();
    expect(publishing).toEqual(['keycloak', 'relay']);
    expect(services.relay!.ports).toEqual(['${DROPOPS_HTTPS_PORT}:${DROPOPS_HTTPS_PORT}']);
    expect(services.keycloak!.ports).toEqual(['${KEYCLOAK_HTTPS_PORT}:8443']);
  });

  it('keeps the databases and the model server on an internal network only', () => {
    expect(compose.networks.backend!.internal).toBe(true);
    for (const name of ['postgres', 'redis', 'ollama']) expect(services[name]!.networks).toEqual(['backend']);
    for (const name of ONE_SHOTS) expect(services[name]!.network_mode).toBe('none');
  });

  // A full release (PostgreSQL's are major.minor), not a moving major tag like postgres:17 or latest.
  it('pins every image to a release, never latest', () => {
    const version = (
      JSON.parse(readFileSync(join(repoRoot, 'appliance/package.json'), 'utf8')) as { version: string }
    ).version;
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(/^[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.]+)?$/);
      expect(s.image, name).not.toMatch(/:latest$/);
      if (s.build) expect(s.image, name).toBe(`dropops/relay:${version}`);
    }
  });

  it('runs the relay read-only, with a tmpfs /tmp, its data in a named volume and no capabilities', () => {
    const relay = services.relay!;
    expect(relay.build).toEqual({ context: '.', dockerfile: 'compose/relay/Dockerfile' });
    expect(relay.read_only).toBe(true);
    expect(relay.tmpfs?.some((t) => t.startsWith('/tmp'))).toBe(true);
    expect(relay.volumes).toEqual(['relay-data:/var/lib/dropops']);
    expect(relay.cap_drop).toEqual(['ALL']);
    expect(relay.environment!.DROPOPS_HOST).toBe('0.0.0.0');
  });

  it('gives the relay longer to stop than its own drain, so SIGTERM hands operators over before the kill', () => {
    const grace = /^(\d+)s$/.exec(services.relay!.stop_grace_period ?? '');
    expect(grace, 'relay stop_grace_period in seconds').not.toBeNull();
    const drainMs = loadConfig(
      {},
      { DROPOPS_SHUTDOWN_GRACE_MS: services.relay!.environment?.DROPOPS_SHUTDOWN_GRACE_MS },
    ).shutdownGraceMs;
    expect(Number(grace![1]) * 1000).toBeGreaterThan(drainMs);
  });

  it('gives every long-running service a healthcheck', () => {
    for (const name of LONG_RUNNING)
      expect(services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    expect(services.relay!.healthcheck!.test).toEqual(['CMD', 'node', 'compose/relay/healthcheck.js']);
  });

  it('starts nothing before check-env has passed, and the relay and Keycloak only after pki-init', () => {
    expect(services['pki-init']!.depends_on).toEqual({
      'check-env': { condition: 'service_completed_successfully' },
    });
    for (const name of ['postgres', 'redis', 'ollama'])
      expect(services[name]!.depends_on!['check-env']!.condition).toBe('service_completed_successfully');
    for (const name of ['relay', 'keycloak']) {
      expect(services[name]!.depends_on!['pki-init']!.condition).toBe('service_completed_successfully');
      expect(services[name]!.depends_on!.postgres!.condition).toBe('service_healthy');
    }
    expect(services.relay!.depends_on!.redis!.condition).toBe('service_healthy');
    expect(services['check-env']!.depends_on).toBeUndefined();
  });

  it('keeps Ollama behind its profile with a named volume for models', () => {
    expect(services.ollama!.profiles).toEqual(['ollama']);
    expect(services.ollama!.volumes).toEqual(['ollama-models:/root/.ollama']);
  });

  it('holds no secret: every value for a secret-named variable is an interpolation from .env', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN|AUTH|DATABASE_URL|REDIS_URL/.test(key)) {
          expect(String(value), `${name}.${key}`).toMatch(/\$\{[A-Z0-9_]+(:\?[^}]*)?\}/);
          expect(String(value).replace(/\$\{[^}]*\}/g, ''), `${name}.${key}`).not.toMatch(/[0-9a-f]{16}/i);
        }
      }
    }
    expect(services['check-env']!.env_file).toBe('.env');
  });

  it('reads from .env only variables that check-env checks and generate-env.sh writes', () => {
    const required = new Set(references.filter((r) => !r.hasDefault).map((r) => r.name));
    for (const name of required) expect(Object.keys(ENV_SPEC), name).toContain(name);
    const generator = readFileSync(join(repoRoot, 'scripts/generate-env.sh'), 'utf8');
    for (const name of Object.keys(ENV_SPEC)) expect(generator, name).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  it('uses every secret that check-env knows', () => {
    const used = new Set(references.map((r) => r.name));
    for (const [name, spec] of Object.entries(ENV_SPEC))
      if (spec.kind === 'secret') expect(used, name).toContain(name);
  });
});

/** Dockerfile instructions with their continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

describe('compose/relay/Dockerfile', () => {
  const dockerfile = instructions(readFileSync(join(repoRoot, 'compose/relay/Dockerfile'), 'utf8'));
  const stages = dockerfile.reduce<{ op: string; args: string }[][]>((acc, i) => {
    if (i.op === 'FROM') acc.push([]);
    acc.at(-1)?.push(i);
    return acc;
  }, []);
  const final = stages.at(-1)!;

  it('is multi-stage and every stage starts from Node 24 pinned to a full version', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]!.args).toMatch(/^node:24\.\d+\.\d+-[\w-]+( AS \w+)?$/);
  });

  it('installs production dependencies only, from the lock file', () => {
    const run = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(run.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(run.some((r) => /npm (install|i)\b/.test(r))).toBe(false);
  });

  it('runs as a non-root user', () => {
    const users = final.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it('bakes no secret into ENV or ARG', () => {
    for (const i of dockerfile.filter((d) => d.op === 'ENV' || d.op === 'ARG')) {
      expect(i.args).not.toMatch(/(PASSWORD|SECRET|TOKEN|_KEY)\b/i);
    }
  });

  it('copies only files that exist, never the whole context or .env', () => {
    for (const i of dockerfile.filter((d) => d.op === 'COPY' && !d.args.startsWith('--from'))) {
      const sources = i.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(source, i.args).not.toMatch(/^\.\/?$|\.env/);
        expect(existsSync(join(repoRoot, source)), source).toBe(true);
      }
    }
    const ignored = readFileSync(join(repoRoot, 'compose/relay/Dockerfile.dockerignore'), 'utf8').split('\n');
    expect(ignored).toContain('.env');
  });
});
