import { opts, type ProgramSpec } from '../spec.ts';

const ipShow: ProgramSpec = { positional: 'text' };
const ipObject = (verbs: string[]): ProgramSpec => ({
  subcommandOptional: true,
  subcommands: Object.fromEntries(verbs.map((v) => [v, ipShow])),
});
const showVerbs = ['show', 'list', 'lst', 'ls', 'sh'];

const systemctlRead: ProgramSpec = { inherit: true, positional: 'text' };
const systemctlVerbs = [
  'status',
  'show',
  'cat',
  'list-units',
  'list-unit-files',
  'list-timers',
  'list-sockets',
  'list-dependencies',
  'list-jobs',
  'list-machines',
  'list-automounts',
  'list-paths',
  'is-active',
  'is-enabled',
  'is-failed',
  'is-system-running',
  'get-default',
  'show-environment',
];

/** Process, network and system inspection tools. */
export const systemTools: Record<string, ProgramSpec> = {
  free: {
    maxPositional: 0,
    options: opts(
      '-b -k -m -g -h -l -t -v -w -s:N -c:N --bytes --kilo --mega --giga --tera --kibi --mebi --gibi --tebi --human --si --lohi --total --wide --committed --seconds:N --count:N',
    ),
  },
  uptime: { maxPositional: 0, options: opts('-p -s --pretty --since') },
  uname: {
    maxPositional: 0,
    options: opts(
      '-a -s -n -r -v -m -p -i -o --all --kernel-name --nodename --kernel-release --kernel-version --machine --processor --hardware-platform --operating-system',
    ),
  },
  hostname: {
    maxPositional: 0,
    options: opts(
      '-A -d -f -i -I -s --all-fqdns --domain --fqdn --long --ip-address --all-ip-addresses --short',
    ),
  },
  ps: {
    harmlessArgs: true,
    positional: (v) => /^[a-zA-Z]+$|^[\d,]+$/.test(v),
    options: opts(
      '-A -a -d -e -f -F -H -j -l -L -M -N -T -w -x -y -Z -c -o:L -O:L -p:T -q:T -u:T -U:T -g:T -G:T -C:T -t:T -s:T ' +
        '--sort:T --forest --no-headers --headers --pid:T --ppid:T --user:T --group:T --format:L --cols:N --columns:N --width:N --lines:N --tty:T --deselect',
    ),
  },
  top: {
    maxPositional: 0,
    options: opts('-b -c -H -i -S -n:N -d:N -o:L -p:T -u:T -U:T -w:N -E:T -e:T'),
    post: (p) =>
      p.options.has('-b') && p.options.has('-n') ? null : 'top is interactive unless run with -b -n N',
  },
  pgrep: {
    harmlessArgs: true,
    positional: 'text',
    maxPositional: 1,
    options: opts(
      '-a -c -f -i -l -n -o -v -w -x -d:T -g:T -G:T -P:T -s:T -t:T -u:T -U:T --list-full --list-name --count --full --ignore-case --newest --oldest --inverse --lightweight --exact --delimiter:T --pgroup:T --group:T --parent:T --session:T --terminal:T --euid:T --uid:T --ns:T',
    ),
  },
  lsof: {
    harmlessArgs: true,
    positional: 'text',
    options: opts(
      '-a -b -C -h -i? -l -n -N -P -R -t -U -V -w -X -c:T -d:T -g? -p:T -u:T -s:T -S:N -T? -F? -r? -x? -K? -k:P +D +d +L',
    ),
  },
  // No -K/--kill (closes sockets).
  ss: {
    positional: 'text',
    options: opts(
      '-a -l -t -u -x -w -d -S -n -r -p -e -m -o -i -s -4 -6 -0 -H -O -Z -z -b -M -E -f:T -A:T -F:P --all --listening --tcp --udp --unix --raw --dccp --sctp --numeric --resolve --processes --extended --memory --options --info --summary --no-header --oneline --context --contexts --bpf --events --family:T --query:T --filter:P --ipv4 --ipv6 --packet',
    ),
  },
  netstat: {
    harmlessArgs: true,
    maxPositional: 0,
    options: opts(
      '-a -t -u -w -x -n -l -p -r -i -s -e -c -W -g -M -o -v -4 -6 -N -C -F --all --tcp --udp --raw --unix --numeric --listening --program --route --interfaces --statistics --extended --continuous --wide --groups --masquerade --timers --verbose',
    ),
  },
  lsblk: {
    harmlessArgs: true,
    options: opts(
      '-a -b -d -D -f -J -l -m -n -O -p -P -r -s -S -t -z -A -e:T -I:T -o:L -x:T -M --all --bytes --nodeps --discard --fs --json --list --perms --noheadings --output-all --paths --pairs --raw --inverse --scsi --topology --output:L --sort:T --exclude:T --include:T --tree?',
    ),
  },
  // No -g (garbage-collects the cache) or -c (names a cache file).
  blkid: {
    options: opts(
      '-d -i -k -l -p -s:T -o:L -t:T -L:T -U:T -n:T -u:T -S:N -O:N --probe --info --list-filesystems --output:L --match-tag:T --match-token:T --label:T --uuid:T',
    ),
  },
  mount: { maxPositional: 0, options: opts('-l --show-labels -t:T --types:T') },
  ip: {
    wholeTokens: true,
    options: opts(
      '-4 -6 -s -d -j -p -o -c -h -br -brief -json -pretty -details -stats -oneline -human -color? --brief --json --details --stats --color? --oneline --pretty',
    ),
    subcommands: {
      addr: ipObject(showVerbs),
      address: ipObject(showVerbs),
      a: ipObject(showVerbs),
      link: ipObject(showVerbs),
      l: ipObject(showVerbs),
      route: ipObject([...showVerbs, 'get']),
      r: ipObject([...showVerbs, 'get']),
      ro: ipObject([...showVerbs, 'get']),
      neigh: ipObject(showVerbs),
      neighbour: ipObject(showVerbs),
      neighbor: ipObject(showVerbs),
      n: ipObject(showVerbs),
      rule: ipObject(showVerbs),
      maddr: ipObject(showVerbs),
      netns: ipObject(['list']),
    },
  },
  journalctl: {
    positional: 'text',
    options: opts(
      '-a -b? -e -f -k -l -m -N -q -r -x -S:T -U:T -u:T -n:N -p:T -o:{short,short-full,short-iso,short-iso-precise,short-precise,short-monotonic,short-delta,short-unix,verbose,export,json,json-pretty,json-sse,json-seq,cat,with-unit} -t:T -g:T -D:P -F:T -M:T -I -T:T ' +
        '--all --boot? --pager-end --follow --dmesg --full --no-full --merge --fields --quiet --reverse --catalog --utc ' +
        '--since:T --until:T --unit:T --user-unit:T --user --system --lines:N --priority:T --output:{short,short-full,short-iso,short-iso-precise,short-precise,short-monotonic,short-delta,short-unix,verbose,export,json,json-pretty,json-sse,json-seq,cat,with-unit} --identifier:T ' +
        '--grep:T --case-sensitive? --directory:P --file:P --field:T --machine:T --output-fields:T --no-pager --no-tail ' +
        '--no-hostname --disk-usage --list-boots --header --facility:T --cursor:T --after-cursor:T --show-cursor ' +
        '--cursor-file:P --invocation:T --namespace:T --verify',
    ),
  },
  systemctl: {
    options: opts(
      '-a -l -q -t:T -n:N -o:{short,short-full,short-iso,short-iso-precise,short-precise,short-monotonic,short-delta,short-unix,verbose,export,json,json-pretty,json-sse,json-seq,cat,with-unit} -p:T -P:T --all --full --no-pager --no-legend --plain --quiet --user --system --type:T --state:T --lines:N --output:{short,short-full,short-iso,short-iso-precise,short-precise,short-monotonic,short-delta,short-unix,verbose,export,json,json-pretty,json-sse,json-seq,cat,with-unit} --property:T --value --reverse --failed --recursive --show-types --with-dependencies',
    ),
    subcommands: Object.fromEntries(systemctlVerbs.map((v) => [v, systemctlRead])),
  },
};
