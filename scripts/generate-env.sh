#!/usr/bin/env bash
# Writes the appliance's .env (next to docker-compose.yml) with fresh random secrets from openssl.
# Needs only bash and openssl, so it runs on a fresh host before anything is installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output="$root/.env"
host=""
ips=""
email=""
https_port=8443
keycloak_port=8444
force=0

usage() {
  cat <<'EOF'
generate-env.sh: write the appliance's .env with strong random secrets (mode 0600)

Usage: scripts/generate-env.sh [--host NAME] [--ips LIST] [--admin-email ADDRESS]
                               [--https-port N] [--keycloak-port N] [--output FILE] [--force]

  --host NAME           DNS name operators and browsers use (default: this host's `hostname -f`)
  --ips LIST            comma-separated IP addresses also written into the certificates
  --admin-email ADDRESS e-mail of the first DropOps admin (default: admin@NAME)
  --https-port N        the relay's published HTTPS and operator port (default 8443)
  --keycloak-port N     Keycloak's published HTTPS port for browser login (default 8444)
  --output FILE         where to write (default: .env beside docker-compose.yml)
  --force               replace an existing file. After the first start this breaks the appliance:
                        PostgreSQL and Keycloak keep the passwords they were first given (docs/INSTALL.md).

Exit codes: 0 written, 1 refused (the file exists and --force was not given), 2 bad command line,
3 openssl is missing.
EOF
}

die_usage() {
  echo "generate-env.sh: $1" >&2
  echo "Run scripts/generate-env.sh --help for the options." >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --force) force=1; shift ;;
    --host | --ips | --admin-email | --https-port | --keycloak-port | --output)
      [ $# -ge 2 ] || die_usage "$1 needs a value"
      case "$1" in
        --host) host="$2" ;;
        --ips) ips="$2" ;;
        --admin-email) email="$2" ;;
        --https-port) https_port="$2" ;;
        --keycloak-port) keycloak_port="$2" ;;
        --output) output="$2" ;;
      esac
      shift 2 ;;
    *) die_usage "unknown argument \"$1\"" ;;
  esac
done

command -v openssl >/dev/null 2>&1 || {
  echo "generate-env.sh: openssl is not on the PATH; install it (apt-get install openssl) and run again." >&2
  exit 3
}

if [ -z "$host" ]; then
  host="$(hostname -f 2>/dev/null || hostname)"
fi
[[ "$host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || die_usage "--host \"$host\" is not a DNS name"
for port in "$https_port" "$keycloak_port"; do
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    die_usage "\"$port\" is not a port"
  fi
done
[ "$https_port" != "$keycloak_port" ] || die_usage "--https-port and --keycloak-port must differ"
[ -n "$email" ] || email="admin@$host"
[ -d "$(dirname "$output")" ] || die_usage "the folder of $output does not exist"

if [ -e "$output" ] && [ $force -eq 0 ]; then
  echo "generate-env.sh: $output already exists; it is left as it is." >&2
  echo "Replacing it after the first start breaks the appliance (docs/INSTALL.md); if you mean it, add --force." >&2
  exit 1
fi

# 32 random bytes as hex: 256 bits, and safe unquoted in .env files, URLs, YAML and psql.
secret() { openssl rand -hex 32; }
# People type this one once, at the first login, so it is shorter: 20 random bytes, 160 bits.
typed_secret() { openssl rand -hex 20; }

umask 077
tmp="$(mktemp "$(dirname "$output")/.env.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cat >"$tmp" <<EOF
# DropOps appliance settings, written by scripts/generate-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ).
# Keep this file private (mode 0600) and out of version control. scripts/check-env checks it.

# Where operators and browsers reach the appliance; written into its certificates on the first start.
DROPOPS_PUBLIC_HOST=$host
DROPOPS_PUBLIC_IPS=$ips
DROPOPS_HTTPS_PORT=$https_port
KEYCLOAK_HTTPS_PORT=$keycloak_port
DROPOPS_TRUST_DOMAIN=dropops.local

# The first DropOps admin (Keycloak realm "dropops", user "admin"); the password is temporary.
DROPOPS_FIRST_ADMIN_EMAIL=$email
DROPOPS_FIRST_ADMIN_PASSWORD=$(typed_secret)

# Keycloak's own administrator (master realm), for the Keycloak admin console only.
KEYCLOAK_ADMIN_USER=kcadmin
KEYCLOAK_ADMIN_PASSWORD=$(secret)

# Service secrets: PostgreSQL and Keycloak keep these from their first start on.
POSTGRES_PASSWORD=$(secret)
DROPOPS_DB_PASSWORD=$(secret)
KEYCLOAK_DB_PASSWORD=$(secret)
REDIS_PASSWORD=$(secret)
DROPOPS_OIDC_CLIENT_SECRET=$(secret)
EOF
chmod 0600 "$tmp"
mv -f "$tmp" "$output"
trap - EXIT

echo "wrote $output (mode 0600) for https://$host:$https_port"
echo "first admin: user \"admin\" in realm \"dropops\"; the temporary password is DROPOPS_FIRST_ADMIN_PASSWORD in that file."
echo "next: docker compose up -d (docs/INSTALL.md)"
