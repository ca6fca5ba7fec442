#!/bin/sh
# Runs the DropOps operator from this bundle, in the current directory: it reads its enrollment from
# ./.dropops (made by install.sh or `./node lib/operator.mjs enroll`), dials out and opens no port.
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 3

case ${1:-} in
  --help | -h)
    cat <<'EOF'
run.sh: run the DropOps operator in the current directory until Ctrl-C or a remote stop

Usage: cd <install dir> && ./run.sh [--dir STATE_DIR]

The operator reads its enrollment from ./.dropops (or STATE_DIR) and connects out to the appliance.
Other verbs (audit verify, classify, redact, ...): ./node lib/operator.mjs --help
Exit codes: 0 stopped, 1 refused by the appliance, 2 bad command line, 3 not enrolled here or the
appliance unreachable, 70 internal error.
EOF
    exit 0
    ;;
esac

[ -x "$here/node" ] || {
  echo "run.sh: $here/node is missing or not executable; unpack or install the bundle again." >&2
  exit 3
}
exec "$here/node" "$here/lib/operator.mjs" run "$@"
