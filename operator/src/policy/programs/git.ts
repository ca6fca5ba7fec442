import { opts, type Parsed, type ProgramSpec } from '../spec.ts';

// History and diff options shared by log, show and diff. Deliberately absent: --output (writes a file),
// --ext-diff and --textconv (run configured programs).
const diffOpts =
  '-p -u -s -z -U:N -M? -C? -R -w -b --patch --no-patch --unified:N --raw --patch-with-raw --stat? --shortstat ' +
  '--numstat --dirstat? --summary --name-only --name-status --compact-summary --submodule? --color? --no-color ' +
  '--word-diff? --word-diff-regex:T --color-words? --no-renames --find-renames? --find-copies? --check ' +
  '--full-index --binary --abbrev? --diff-filter:T -S:T -G:T --pickaxe-regex --pickaxe-all -O:P --relative? ' +
  '--text -a --ignore-all-space --ignore-space-change --ignore-space-at-eol --ignore-blank-lines --minimal ' +
  '--patience --histogram --diff-algorithm:T --exit-code --quiet --no-ext-diff --no-textconv --src-prefix:T ' +
  '--dst-prefix:T --no-prefix --ita-invisible-in-index --function-context -W --indent-heuristic --cc --merges? -m ';
const logOpts =
  '-n:N -i -E -F -P --max-count:N --skip:N --since:T --after:T --until:T --before:T --author:T --committer:T ' +
  '--grep:T --all-match --invert-grep --regexp-ignore-case --oneline --graph --decorate? --no-decorate --all ' +
  '--branches? --tags? --remotes? --no-merges --min-parents:N --max-parents:N --first-parent --reverse --follow ' +
  '--pretty? --format:T --abbrev-commit --no-abbrev-commit --date:T --relative-date --left-right --cherry-pick ' +
  '--cherry-mark --topo-order --date-order --author-date-order --boundary --simplify-by-decoration --full-history ' +
  '--ancestry-path --show-signature --notes? --no-notes --log-size -L:T --source --use-mailmap --mailmap ' +
  '--encoding:T --expand-tabs? --no-expand-tabs --walk-reflogs -g --show-pulls --no-walk? --parents --children';

const needOne =
  (names: string[], what: string) =>
  (p: Parsed): string | null =>
    names.some((n) => p.options.has(n)) ? null : what;

const sub = (notation: string, extra: Partial<ProgramSpec> = {}): ProgramSpec => ({
  positional: 'text',
  options: opts(notation),
  ...extra,
});

/** git with read-only subcommands; no -c, no --paginate, no --exec-path. */
export const git: ProgramSpec = {
  options: opts(
    '-C:P -P --no-pager --git-dir:P --work-tree:P --bare --no-replace-objects --literal-pathspecs --glob-pathspecs --noglob-pathspecs --icase-pathspecs --no-optional-locks --namespace:T',
  ),
  subcommands: {
    status: sub(
      '-s -b -z -v -u? --short --branch --porcelain? --long --untracked-files? --ignored? --ignore-submodules? --show-stash --ahead-behind --no-ahead-behind --column? --no-column --renames --no-renames --find-renames? --verbose',
    ),
    log: sub(diffOpts + logOpts, { numericShort: true }),
    show: sub(diffOpts + logOpts, { numericShort: true }),
    diff: sub(diffOpts + '--cached --staged --no-index --merge-base'),
    branch: sub(
      '-a -r -l -v -vv --all --remotes --list --verbose --show-current --no-color --color? --contains:T --no-contains:T --merged:T --no-merged:T --points-at:T --sort:T --format:T --column? --no-column --abbrev:N --no-abbrev -i --ignore-case',
      {
        // Positionals are patterns only with --list; otherwise they create branches.
        post: (p) =>
          p.positionals.length === 0 || p.options.has('-l') || p.options.has('--list')
            ? null
            : 'git branch with a name creates a branch',
      },
    ),
    tag: sub(
      '-l -n? --list --sort:T --contains:T --no-contains:T --merged:T --no-merged:T --points-at:T --format:T --column? --no-column -i --ignore-case',
      {
        post: needOne(['-l', '--list'], 'git tag without -l/--list creates a tag'),
      },
    ),
    'rev-parse': sub(
      '-q --quiet --verify --short? --abbrev-ref? --symbolic --symbolic-full-name --all --branches? --tags? --remotes? --git-dir --git-common-dir --show-toplevel --show-prefix --show-cdup --is-inside-work-tree --is-inside-git-dir --is-bare-repository --is-shallow-repository --absolute-git-dir --show-superproject-working-tree --since:T --until:T --default:T --sq',
    ),
    'ls-files': sub(
      '-c -d -m -o -i -s -u -k -z -t -v -f --cached --deleted --modified --others --ignored --stage --unmerged --killed --directory --no-empty-directory --exclude:T -x:T --exclude-from:P -X:P --exclude-standard --error-unmatch --full-name --abbrev? --eol --recurse-submodules --format:T --deduplicate --sparse',
    ),
    blame: sub(
      '-b -c -e -f -l -n -p -s -t -w -L:T -M? -C? -S:P --root --show-stats --score-debug --show-name --show-number --porcelain --line-porcelain --incremental --date:T --show-email --abbrev:N --contents:P --reverse:T --first-parent --ignore-rev:T --ignore-revs-file:P --color-lines --color-by-age --progress --no-progress',
    ),
    describe: sub(
      '--tags --all --long --always --abbrev:N --dirty? --broken? --exact-match --match:T --exclude:T --contains --candidates:N --first-parent --debug',
    ),
    // Only listing: `git remote show NAME` and `git remote update` touch the network.
    remote: {
      maxPositional: 0,
      options: opts('-v --verbose'),
      subcommandOptional: true,
      subcommands: { 'get-url': sub('--push --all', { maxPositional: 1 }) },
    },
    config: sub(
      '-l -z -f:P --list --get --get-all --get-regexp --get-urlmatch --global --system --local --worktree --file:P --blob:T --show-origin --show-scope --name-only --null --type:T --bool --int --bool-or-int --path --expiry-date --default:T --includes --no-includes',
      {
        maxPositional: 2,
        post: needOne(
          ['--get', '--get-all', '--get-regexp', '--get-urlmatch', '-l', '--list'],
          'git config without --get or --list may write',
        ),
      },
    ),
    shortlog: sub(
      '-s -n -e -c -w? --summary --numbered --email --committer --all --no-merges --since:T --until:T --format:T --group:T',
    ),
    'cat-file': sub('-t -s -e -p', {
      maxPositional: 2,
    }),
    'show-ref': sub(
      '-d -s -q --head --heads --tags --branches --verify --dereference --hash? --abbrev? --quiet --exists',
    ),
    'merge-base': sub('-a --all --octopus --independent --is-ancestor --fork-point'),
    'name-rev': sub('--tags --refs:T --exclude:T --all --name-only --no-undefined --always'),
    'count-objects': sub('-v -H --verbose --human-readable', { maxPositional: 0 }),
    version: sub('--build-options', { maxPositional: 0 }),
    stash: { subcommands: { list: sub(logOpts), show: sub(diffOpts) } },
    worktree: { subcommands: { list: sub('--porcelain -v --verbose -z --expire:T') } },
    reflog: {
      subcommandOptional: true,
      maxPositional: 0,
      options: opts(logOpts),
      subcommands: { show: sub(logOpts) },
    },
  },
};
