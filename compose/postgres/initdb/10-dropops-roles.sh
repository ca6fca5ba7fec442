#!/usr/bin/env bash
# Runs once, when the postgres image initialises an empty data volume (/docker-entrypoint-initdb.d): one login
# role and one database for the relay and another for Keycloak, so neither can read the other's tables and
# neither is a superuser. Passwords come from .env through the service's environment.
# The role and database names may be overridden (the tests use names of their own on a shared server).
set -euo pipefail

: "${DROPOPS_DB_PASSWORD:?DROPOPS_DB_PASSWORD is not set; run scripts/generate-env.sh}"
: "${KEYCLOAK_DB_PASSWORD:?KEYCLOAK_DB_PASSWORD is not set; run scripts/generate-env.sh}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v relay_role="${DROPOPS_DB_USER:-dropops}" -v relay_password="$DROPOPS_DB_PASSWORD" \
  -v keycloak_role="${KEYCLOAK_DB_USER:-keycloak}" -v keycloak_password="$KEYCLOAK_DB_PASSWORD" <<'SQL'
CREATE ROLE :"relay_role" LOGIN PASSWORD :'relay_password';
CREATE DATABASE :"relay_role" OWNER :"relay_role";
REVOKE ALL ON DATABASE :"relay_role" FROM PUBLIC;
CREATE ROLE :"keycloak_role" LOGIN PASSWORD :'keycloak_password';
CREATE DATABASE :"keycloak_role" OWNER :"keycloak_role";
REVOKE ALL ON DATABASE :"keycloak_role" FROM PUBLIC;
SQL
