#!/usr/bin/env bash
# Make sure the local services the tests use are running; start any that is not.
# PostgreSQL 127.0.0.1:5432 (trust auth, database `test`), NATS JetStream 127.0.0.1:4222,
# Redis 127.0.0.1:6379. Commands are those of this machine kind (see docs/testing.md).
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # port name
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
  echo "services: $2 did not come up on 127.0.0.1:$1" >&2
  return 1
}

if ! up 5432; then
  echo "services: starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  else
    echo "services: PostgreSQL is not installed (need a server on 127.0.0.1:5432, trust auth, database test)" >&2
    exit 1
  fi
  wait_for 5432 PostgreSQL
fi
# The test database must exist.
if command -v psql >/dev/null; then
  psql -h 127.0.0.1 -U postgres -d test -qtAc 'select 1' >/dev/null 2>&1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test' >/dev/null
fi

if ! up 4222 && [ -x /usr/sbin/nats-server ]; then
  echo "services: starting NATS JetStream"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for 4222 NATS
fi

if ! up 6379 && command -v redis-server >/dev/null; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379 Redis
fi
echo "services: PostgreSQL up$(up 4222 && echo ', NATS up')$(up 6379 && echo ', Redis up')"
