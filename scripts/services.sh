#!/usr/bin/env bash
# Starts this machine's PostgreSQL and Redis if they are not answering; prints their state.
# CI and new users run this copy (scripts/services.sh); it needs nothing outside the repo.
set -u
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>&1 || true
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log 2>&1 || true
fi
for i in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
  sleep 1
done
printf 'postgres: %s\nredis: %s\n' \
  "$(pg_isready -h 127.0.0.1 -p 5432 2>&1)" "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>&1)"
