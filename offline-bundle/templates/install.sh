#!/bin/sh
# Installs the DropOps operator from this bundle into a directory and enrolls it with the appliance.
# The bundle is verified first; only the files its manifest lists are copied.
set -u

usage() {
  cat <<'EOF'
install.sh: verify this bundle, install the operator into DIR and enroll it with the appliance

Usage: ./install.sh --api-key KEY [--dir DIR] [--relay URL] [--expect-key sha256:HEX] [--force]
       ./install.sh [--dir DIR]      (upgrade: DIR holds an enrolled install; its .dropops/ is kept)

  --api-key KEY   the one-time key from `dropops-appliance operator create` (or set DROPOPS_API_KEY)
  --dir DIR       where to install (default /opt/dropops-operator); the operator keeps its key,
                  certificate and audit vault in DIR/.dropops
  --relay URL     the appliance's URL (default: the one built into this bundle, if any)
  --expect-key FP passed to verify.sh: the bundle-signing key fingerprint the appliance shows
  --force         enroll again (needs --api-key) even if DIR/.dropops already holds an enrollment
  --help          this text

Afterwards: cd DIR && ./run.sh
Exit codes: 0 installed and enrolled, 1 verification or enrollment refused, 2 bad command line,
3 something needed is missing or unreachable.
EOF
}

die() {
  code=$1
  shift
  printf 'install.sh: %s\n' "$*" >&2
  exit "$code"
}

here=$(cd "$(dirname "$0")" && pwd) || exit 3
# shellcheck source=/dev/null
. "$here/bundle.env" || die 3 "bundle.env is missing next to install.sh; unpack the whole bundle again."

api_key=${DROPOPS_API_KEY:-}
dir=/opt/dropops-operator
relay=$DROPOPS_BUNDLE_RELAY
expect=''
force=''
while [ $# -gt 0 ]; do
  case $1 in
    --help | -h) usage; exit 0 ;;
    --force) force=--force ;;
    --api-key | --dir | --relay | --expect-key)
      [ $# -ge 2 ] || die 2 "$1 needs a value (see --help)"
      case $1 in
        --api-key) api_key=$2 ;;
        --dir) dir=$2 ;;
        --relay) relay=$2 ;;
        --expect-key) expect=$2 ;;
      esac
      shift
      ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done

# An enrolled install is upgraded in place: the program files change, the enrollment stays.
enroll=1
[ -f "$dir/.dropops/operator.json" ] && [ -z "$force" ] && enroll=0
if [ $enroll -eq 1 ]; then
  [ -n "$api_key" ] || die 2 "--api-key is required: the one-time key that 'dropops-appliance operator create' printed."
  [ -n "$relay" ] || die 2 'this bundle has no relay URL built in; give --relay https://<appliance>:8443'
  case $relay in https://*) ;; *) die 2 "--relay must be an https:// URL, not \"$relay\"" ;; esac
fi

echo "1/4 verifying the bundle in $here"
if [ -n "$expect" ]; then
  "$here/verify.sh" --expect-key "$expect" || die 1 'the bundle failed verification; nothing was installed.'
else
  "$here/verify.sh" || die 1 'the bundle failed verification; nothing was installed.'
fi

echo "2/4 copying the operator into $dir"
if [ -f "$dir/MANIFEST.sha256" ]; then
  # An earlier install: remove the files it listed, keep the operator's state in .dropops/.
  cut -c67- "$dir/MANIFEST.sha256" | while IFS= read -r path; do rm -f "$dir/$path"; done
  rm -f "$dir/MANIFEST.sha256" "$dir/MANIFEST.sha256.sig"
elif [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  die 2 "$dir already holds other files; choose an empty or new directory with --dir."
fi
mkdir -p "$dir" || die 3 "cannot create $dir; choose another --dir or run as a user who may write there."
{ cut -c67- "$here/MANIFEST.sha256"; echo MANIFEST.sha256; echo MANIFEST.sha256.sig; } |
  while IFS= read -r path; do
    mkdir -p "$dir/$(dirname "$path")" && cp -p "$here/$path" "$dir/$path" || exit 1
  done || die 3 "copying into $dir failed; see the error above."

echo "3/4 checking the installed copy"
"$dir/verify.sh" --installed >/dev/null || die 1 "the copy in $dir does not match the manifest; check the disk and retry."

cd "$dir" || die 3 "cannot enter $dir"
if [ $enroll -eq 1 ]; then
  echo "4/4 enrolling with $relay"
  ./node lib/operator.mjs enroll --relay "$relay" --api-key "$api_key" --ca-pin "$DROPOPS_BUNDLE_CA_PIN" $force ||
    die 1 'enrollment failed (see the message above); the files stay installed, run install.sh again to retry.'
else
  echo "4/4 already enrolled: kept $dir/.dropops (add --force --api-key KEY to enroll again)"
fi

echo "installed in $dir; start the operator with: cd $dir && ./run.sh"
