#!/bin/sh
# Checks a DropOps offline bundle where it was unpacked, with nothing but openssl, sha256sum and POSIX tools:
# the appliance's signature over MANIFEST.sha256, every file's sum, and that no file is there that the
# manifest does not list. Exit 0 when all hold, 1 naming each file that fails, 2 for a bad command line,
# 3 when a tool is missing.
set -u

usage() {
  cat <<'EOF'
verify.sh: check this bundle's signature and every file's SHA-256 sum

Usage: ./verify.sh [--expect-key sha256:HEX] [--installed]

  --expect-key FP  also require the signing key to have this fingerprint (the one the appliance shows
                   with `dropops-pki bundle-key`); without it, compare the printed fingerprint yourself
  --installed      skip the operator's own state in .dropops/ (for a directory install.sh installed into)
  --help           this text

A key that travels inside the bundle proves nothing alone: compare its fingerprint with the appliance's.
Exit codes: 0 intact, 1 verification failed, 2 bad command line, 3 openssl or sha256sum missing.
EOF
}

expected_key=''
installed=0
while [ $# -gt 0 ]; do
  case $1 in
    --help | -h) usage; exit 0 ;;
    --installed) installed=1 ;;
    --expect-key)
      [ $# -ge 2 ] || { echo 'verify.sh: --expect-key needs a fingerprint (sha256:HEX)' >&2; exit 2; }
      expected_key=$2
      shift
      ;;
    *) printf 'verify.sh: unknown option %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

for tool in openssl sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "verify.sh: $tool is not on the PATH; install it (openssl, coreutils) and run verify.sh again." >&2
    exit 3
  }
done

cd "$(dirname "$0")" || exit 3
failed=0
fail() {
  printf 'verify.sh: FAILED: %s\n' "$*" >&2
  failed=1
}
give_up() {
  fail "$@"
  echo 'verify.sh: the bundle is NOT intact; do not install or run it.' >&2
  exit 1
}

for f in MANIFEST.sha256 MANIFEST.sha256.sig signing-key.pub.pem; do
  [ -f "$f" ] || give_up "$f is missing"
done

fingerprint=$(openssl pkey -pubin -in signing-key.pub.pem -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
fingerprint="sha256:$fingerprint"
echo "signing key: $fingerprint"
if [ -n "$expected_key" ] && [ "$expected_key" != "$fingerprint" ]; then
  give_up "signing-key.pub.pem is not the expected key $expected_key (the bundle was signed by another appliance, or the key was replaced)"
fi

openssl pkeyutl -verify -pubin -inkey signing-key.pub.pem -rawin -in MANIFEST.sha256 \
  -sigfile MANIFEST.sha256.sig >/dev/null 2>&1 ||
  give_up 'MANIFEST.sha256.sig is not a signature of MANIFEST.sha256 by signing-key.pub.pem (the manifest was changed, or signed by another key)'

# sha256sum --quiet prints only the failures: "NAME: FAILED" (changed) or "NAME: FAILED open or read" (missing).
report=$(sha256sum -c --strict --quiet MANIFEST.sha256 2>/dev/null)
status=$?
if [ -n "$report" ]; then
  while IFS= read -r line; do
    case $line in
      *': FAILED open or read') fail "${line%: FAILED open or read} is missing (listed in MANIFEST.sha256)" ;;
      *': FAILED') fail "${line%: FAILED} was changed (its SHA-256 is not the one in MANIFEST.sha256)" ;;
      *) fail "$line" ;;
    esac
  done <<EOF
$report
EOF
elif [ $status -ne 0 ]; then
  fail 'MANIFEST.sha256 has a line that is not in sha256sum format'
fi

# Every file must be listed: an extra one (say, a planted .dropops/ enrollment) is as bad as a changed one.
listed=$(cut -c67- MANIFEST.sha256)
unlisted=$(
  if [ $installed -eq 1 ]; then find . -path ./.dropops -prune -o ! -type d -print; else find . ! -type d; fi |
    sed 's|^\./||' |
    while IFS= read -r path; do
      case $path in MANIFEST.sha256 | MANIFEST.sha256.sig) continue ;; esac
      printf '%s\n' "$listed" | grep -Fxq -e "$path" || printf '%s\n' "$path"
    done
)
if [ -n "$unlisted" ]; then
  while IFS= read -r path; do
    fail "$path is not listed in MANIFEST.sha256 (added after signing)"
  done <<EOF
$unlisted
EOF
fi

if [ $failed -ne 0 ]; then
  echo 'verify.sh: the bundle is NOT intact; do not install or run it.' >&2
  exit 1
fi
count=$(wc -l <MANIFEST.sha256 | tr -d ' ')
note=''
[ $installed -eq 1 ] && note=' (the operator state in .dropops/ was not checked)'
[ -n "$expected_key" ] || note="$note; compare the key above with the appliance's (dropops-pki bundle-key)"
echo "OK: signature valid, $count files match MANIFEST.sha256, no unlisted files$note"
