#!/usr/bin/env bash
# First-start step (compose service pki-init): creates the appliance CA in the relay's data volume when it is
# absent, and Keycloak's TLS certificate signed by it; on later starts it changes nothing and prints the pin.
# The relay issues its own server certificate (with the full chain operators look for) on its first start.
set -euo pipefail

if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  cat <<'HELP'
pki-init.sh: create the appliance CA and Keycloak's TLS certificate if they are absent

Reads DROPOPS_DATA_DIR (the CA goes to $DROPOPS_DATA_DIR/pki), KEYCLOAK_TLS_DIR (tls.crt, tls.key),
DROPOPS_PUBLIC_HOST, DROPOPS_PUBLIC_IPS (comma-separated, may be empty) and DROPOPS_TRUST_DOMAIN.
Exit codes: 0 ready, 1 a CA step failed, 2 a setting is missing.
HELP
  exit 0
fi
for name in DROPOPS_DATA_DIR KEYCLOAK_TLS_DIR DROPOPS_PUBLIC_HOST; do
  if [ -z "${!name:-}" ]; then
    echo "pki-init: $name is not set; run scripts/generate-env.sh and start with docker compose." >&2
    exit 2
  fi
done

pki="$DROPOPS_DATA_DIR/pki"
if [ -f "$pki/ca.json" ]; then
  echo "pki-init: the CA in $pki is kept."
else
  dropops-pki init --dir "$pki" --trust-domain "${DROPOPS_TRUST_DOMAIN:-dropops.local}" >/dev/null
  echo "pki-init: created the CA in $pki."
fi

cert="$KEYCLOAK_TLS_DIR/tls.crt"
key="$KEYCLOAK_TLS_DIR/tls.key"
if [ -f "$cert" ] && [ -f "$key" ]; then
  echo "pki-init: Keycloak's certificate in $KEYCLOAK_TLS_DIR is kept."
else
  # Browsers use the public name; the relay reaches Keycloak as "keycloak" on the compose network.
  args=(--dir "$pki" --dns "$DROPOPS_PUBLIC_HOST" --dns keycloak --dns localhost --ip 127.0.0.1)
  IFS=',' read -r -a extra_ips <<<"${DROPOPS_PUBLIC_IPS:-}"
  for ip in "${extra_ips[@]}"; do
    ip="${ip// /}"
    [ -z "$ip" ] || args+=(--ip "$ip")
  done
  dropops-pki issue-server "${args[@]}" --cert "$cert" --key "$key" >/dev/null
  echo "pki-init: issued Keycloak's certificate for $DROPOPS_PUBLIC_HOST into $KEYCLOAK_TLS_DIR."
fi

echo "pki-init: CA pin $(dropops-pki pin --dir "$pki")"
