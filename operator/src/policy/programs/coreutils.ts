import { opts, type ProgramSpec } from '../spec.ts';

const hashOpts = opts(
  '-b -t -c -w -z -l:N --binary --text --check --quiet --status --strict --warn --zero --tag --ignore-missing --length:N',
);

/** File and text utilities that only read their inputs. */
export const coreutils: Record<string, ProgramSpec> = {
  ls: {
    harmlessArgs: true,
    options: opts(
      '-a -A -b -B -c -C -d -f -F -g -G -h -H -i -k -l -L -m -n -N -o -p -q -Q -r -R -s -S -t -u -U -v -x -X -Z -1 ' +
        '-I:T -T:N -w:N --all --almost-all --escape --ignore-backups --directory --classify? --file-type ' +
        '--human-readable --si --inode --dereference --dereference-command-line --numeric-uid-gid --literal ' +
        '--hide-control-chars --show-control-chars --quote-name --reverse --recursive --size --context ' +
        '--color? --colour? --hyperlink? --full-time --group-directories-first --no-group --author ' +
        '--sort:{none,size,time,version,extension,width} --time:{atime,access,use,ctime,status,birth,creation,mtime,modification} ' +
        '--time-style:T --format:T --block-size:T --ignore:T --hide:T --width:N --tabsize:N --quoting-style:T --indicator-style:T --zero',
    ),
  },
  cat: {
    harmlessArgs: true,
    options: opts(
      '-A -b -e -E -n -s -t -T -u -v --show-all --number-nonblank --show-ends --number --squeeze-blank --show-tabs --show-nonprinting',
    ),
  },
  head: {
    harmlessArgs: true,
    numericShort: true,
    options: opts('-n:N -c:N -q -v -z --lines:N --bytes:N --quiet --silent --verbose --zero-terminated'),
  },
  tail: {
    harmlessArgs: true,
    numericShort: true,
    options: opts(
      '-n:N -c:N -f -F -q -v -z -s:N --lines:N --bytes:N --follow? --retry --pid:N --sleep-interval:N --max-unchanged-stats:N --quiet --silent --verbose --zero-terminated',
    ),
  },
  wc: {
    harmlessArgs: true,
    options: opts(
      '-c -l -w -m -L --bytes --lines --words --chars --max-line-length --files0-from:P --total:{auto,always,only,never}',
    ),
  },
  sort: {
    // No -o/--output, -T (temporary files), --compress-program (runs a program).
    options: opts(
      '-b -d -f -g -h -i -M -n -R -r -V -c -C -m -s -u -z -k:T -t:T -S:T --key:T --field-separator:T --buffer-size:T ' +
        '--ignore-leading-blanks --dictionary-order --ignore-case --general-numeric-sort --human-numeric-sort ' +
        '--ignore-nonprinting --month-sort --numeric-sort --random-sort --reverse --version-sort --check? --merge ' +
        '--stable --unique --zero-terminated --parallel:N --sort:{general-numeric,human-numeric,month,numeric,random,version} --debug',
    ),
  },
  // A second positional of uniq is its output file.
  uniq: {
    maxPositional: 1,
    options: opts(
      '-c -d -D -u -i -z -f:N -s:N -w:N --count --repeated --unique --ignore-case --zero-terminated --skip-fields:N --skip-chars:N --check-chars:N --all-repeated? --group?',
    ),
  },
  cut: {
    harmlessArgs: true,
    options: opts(
      '-b:T -c:T -f:T -d:T -s -z -n --bytes:T --characters:T --fields:T --delimiter:T --only-delimited --complement --output-delimiter:T --zero-terminated',
    ),
  },
  tr: {
    harmlessArgs: true,
    positional: 'text',
    minPositional: 1,
    maxPositional: 2,
    options: opts('-c -C -d -s -t --complement --delete --squeeze-repeats --truncate-set1'),
  },
  stat: {
    harmlessArgs: true,
    options: opts('-L -f -t -c:T --format:T --printf:T --dereference --file-system --terse --cached:T'),
  },
  // No -C (compiles a magic file next to it).
  file: {
    options: opts(
      '-b -i -k -l -L -h -N -n -p -r -s -S -z -Z -0 -E -f:P -m:P -e:T -F:T -P:T --brief --mime --mime-type --mime-encoding --dereference --no-dereference --keep-going --raw --special-files --uncompress --print0 --separator:T --files-from:P --magic-file:P --exclude:T --extension --apple',
    ),
  },
  du: {
    harmlessArgs: true,
    options: opts(
      '-0 -a -b -c -D -h -H -k -l -L -m -P -s -S -x -d:N -B:T -t:T -X:P --null --all --apparent-size --bytes --total --dereference-args --human-readable --si --count-links --dereference --no-dereference --separate-dirs --summarize --one-file-system --max-depth:N --block-size:T --threshold:T --exclude:T --exclude-from:P --time? --time-style:T --inodes',
    ),
  },
  df: {
    harmlessArgs: true,
    options: opts(
      '-a -h -H -i -k -l -P -T -B:T -t:T -x:T --all --human-readable --si --inodes --local --portability --print-type --total --no-sync --sync --block-size:T --type:T --exclude-type:T',
    ).concat({ name: '--output', arg: (v) => /^[a-z,]*$/.test(v), optional: true }),
  },
  basename: {
    harmlessArgs: true,
    positional: 'text',
    options: opts('-a -z -s:T --multiple --zero --suffix:T'),
  },
  dirname: { harmlessArgs: true, positional: 'text', options: opts('-z --zero') },
  realpath: {
    harmlessArgs: true,
    options: opts(
      '-e -m -L -P -q -s -z --canonicalize-existing --canonicalize-missing --logical --physical --quiet --strip --no-symlinks --zero --relative-to:P --relative-base:P',
    ),
  },
  readlink: {
    harmlessArgs: true,
    options: opts(
      '-f -e -m -n -q -s -v -z --canonicalize --canonicalize-existing --canonicalize-missing --no-newline --quiet --silent --verbose --zero',
    ),
  },
  md5sum: { harmlessArgs: true, options: hashOpts },
  sha1sum: { harmlessArgs: true, options: hashOpts },
  sha224sum: { harmlessArgs: true, options: hashOpts },
  sha256sum: { harmlessArgs: true, options: hashOpts },
  sha384sum: { harmlessArgs: true, options: hashOpts },
  sha512sum: { harmlessArgs: true, options: hashOpts },
  b2sum: { harmlessArgs: true, options: hashOpts },
  cksum: { harmlessArgs: true, options: hashOpts },
  echo: { harmlessArgs: true, positional: 'text', options: opts('-n -e -E') },
  printf: { positional: 'text', minPositional: 1 },
  pwd: { maxPositional: 0, options: opts('-L -P') },
  true: { harmlessArgs: true, positional: 'text', check: () => null },
  false: { harmlessArgs: true, positional: 'text', check: () => null },
  // test and [ evaluate expressions only; every argument is data to them.
  test: { check: () => null },
  '[': { check: (args) => (args.at(-1)?.text === ']' ? null : 'missing "]" for [') },
  which: { harmlessArgs: true, positional: 'text', options: opts('-a -s') },
  type: { harmlessArgs: true, positional: 'text', options: opts('-a -f -p -P -t') },
  whoami: { maxPositional: 0 },
  id: {
    harmlessArgs: true,
    positional: 'text',
    maxPositional: 1,
    options: opts('-a -Z -g -G -n -r -u -z --context --group --groups --name --real --user --zero'),
  },
  printenv: { harmlessArgs: true, positional: 'text', options: opts('-0 --null') },
  date: {
    positional: (v) => v.startsWith('+'),
    maxPositional: 1,
    options: opts(
      '-u -R -I? -d:T -f:P -r:P --utc --universal --rfc-email --iso-8601? --rfc-3339:{date,seconds,ns} --date:T --file:P --reference:P --debug',
    ),
  },
};
