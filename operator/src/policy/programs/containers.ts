import { opts, type ProgramSpec } from '../spec.ts';

const d = (notation: string, extra: Partial<ProgramSpec> = {}): ProgramSpec => ({
  positional: 'text',
  options: opts(notation),
  ...extra,
});

const psOpts =
  '-a -q -s -n:N -l -f:T --all --quiet --size --no-trunc --latest --filter:T --format:T --last:N';
const imagesOpts = '-a -q -f:T --all --quiet --digests --no-trunc --filter:T --format:T --tree';
const inspectOpts = '-f:T -s --format:T --size --type:T';
const logsOpts = '-f -t -n:T --follow --timestamps --tail:T --since:T --until:T --details';
const lsOnly = (extra = '') => ({
  ls: d('-q -f:T --quiet --filter:T --format:T --no-trunc ' + extra),
  list: d('-q -f:T --quiet --filter:T --format:T --no-trunc ' + extra),
  inspect: d(inspectOpts),
});

/** docker: listing and inspection verbs; `stats` only with --no-stream. */
export const docker: ProgramSpec = {
  options: opts(
    '-c:T -H:T -l:T -D --context:T --host:T --log-level:T --config:P --debug --tls --tlsverify --tlscacert:P --tlscert:P --tlskey:P',
  ),
  subcommands: {
    ps: d(psOpts),
    images: d(imagesOpts, { maxPositional: 1 }),
    inspect: d(inspectOpts, { minPositional: 1 }),
    logs: d(logsOpts, { minPositional: 1, maxPositional: 1 }),
    version: d('-f:T --format:T', { maxPositional: 0 }),
    info: d('-f:T --format:T', { maxPositional: 0 }),
    stats: d('-a --all --no-stream --no-trunc --format:T', {
      post: (p) => (p.options.has('--no-stream') ? null : 'docker stats without --no-stream never ends'),
    }),
    top: d('', { minPositional: 1 }),
    port: d('', { minPositional: 1, maxPositional: 2 }),
    history: d('-H -q --human? --no-trunc --quiet --format:T', { maxPositional: 1 }),
    container: {
      subcommands: {
        ls: d(psOpts),
        list: d(psOpts),
        ps: d(psOpts),
        inspect: d(inspectOpts),
        logs: d(logsOpts),
        top: d(''),
        port: d(''),
      },
    },
    image: {
      subcommands: {
        ls: d(imagesOpts),
        list: d(imagesOpts),
        inspect: d(inspectOpts),
        history: d('-H -q --no-trunc --quiet --format:T'),
      },
    },
    network: { subcommands: lsOnly() },
    volume: { subcommands: lsOnly() },
    system: {
      subcommands: { df: d('-v --verbose --format:T', { maxPositional: 0 }), info: d('-f:T --format:T') },
    },
  },
};

const kubeOutput = (v: string) =>
  /^(json|yaml|wide|name|custom-columns|custom-columns-file|go-template|go-template-file|jsonpath|jsonpath-file|jsonpath-as-json|template|templatefile)(=.*)?$/s.test(
    v,
  );

// Flags that only choose what to read or how to print it; -o is an output format for kubectl, not a file.
const kubeGlobal = opts(
  '-n:T -A -l:T -w -L:T -s:T -v:N -f:P -R --namespace:T --all-namespaces --context:T --cluster:T --user:T ' +
    '--kubeconfig:P --selector:T --field-selector:T --watch --watch-only --show-labels --sort-by:T ' +
    '--no-headers --label-columns:T --request-timeout:T --server:T --v:N --insecure-skip-tls-verify --chunk-size:N ' +
    '--show-kind --ignore-not-found --raw:T --filename:P --recursive --template:T --show-managed-fields --subresource:T ' +
    '--certificate-authority:P --client-certificate:P --client-key:P --token:T --as:T --as-group:T --match-server-version',
).concat(['-o', '--output'].map((name) => ({ name, arg: kubeOutput })));
const k = (notation = '', extra: Partial<ProgramSpec> = {}): ProgramSpec => ({
  inherit: true,
  positional: 'text',
  options: opts(notation),
  ...extra,
});

/** kubectl: get/describe/logs/top and other read verbs; no exec, cp, apply, edit, port-forward or proxy. */
export const kubectl: ProgramSpec = {
  options: kubeGlobal,
  subcommands: {
    get: k(),
    describe: k('--show-events?'),
    logs: k(
      '-c:T -p --container:T --previous --follow --tail:N --since:T --since-time:T --timestamps --all-containers? --prefix? --max-log-requests:N --limit-bytes:N --pod-running-timeout:T',
    ),
    top: k('--containers --use-protocol-buffers --no-headers --sort-by:T --sum?'),
    version: k('--client --short', { maxPositional: 0 }),
    explain: k('--recursive --api-version:T'),
    'api-resources': k('--namespaced? --verbs:T --api-group:T --cached'),
    'api-versions': k('', { maxPositional: 0 }),
    // `cluster-info dump` can write a directory, so no positional.
    'cluster-info': k('', { maxPositional: 0 }),
    auth: { inherit: true, subcommands: { 'can-i': k('--list --quiet -q --all-namespaces') } },
    config: {
      inherit: true,
      subcommands: {
        view: k('--minify --flatten --merge?'),
        'get-contexts': k(),
        'current-context': k('', { maxPositional: 0 }),
        'get-clusters': k(),
      },
    },
  },
};
