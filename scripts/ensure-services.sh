#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ (with its management plugin) answer on 127.0.0.1.
# Starts them when installed but stopped; says exactly what to install when they are missing.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=${PG_PORT:-5432} AMQP_PORT=${AMQP_PORT:-5672}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done; return 1; }

missing=()
port_open "$PG_PORT" || command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
port_open "$AMQP_PORT" || command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Four Gates needs PostgreSQL (15 or newer) and RabbitMQ (3.10 or newer). Install what is missing with:" >&2
  echo "    sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

if ! port_open "$PG_PORT"; then
  echo "Starting PostgreSQL..."
  version=$(ls /etc/postgresql | sort -V | tail -1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root service postgresql start
  wait_port "$PG_PORT" || { echo "PostgreSQL did not start; see /var/log/postgresql/" >&2; exit 1; }
fi

if ! port_open "$AMQP_PORT"; then
  echo "Starting RabbitMQ..."
  as_root rabbitmq-server -detached || as_root service rabbitmq-server start
  wait_port "$AMQP_PORT" || { echo "RabbitMQ did not start; see /var/log/rabbitmq/" >&2; exit 1; }
fi

if ! port_open 15672; then
  echo "Enabling the RabbitMQ management plugin..."
  as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
  wait_port 15672 || { echo "RabbitMQ management API did not come up on 15672" >&2; exit 1; }
fi

# The services connect as user postgres without a password (trust on 127.0.0.1), or per FOURGATES_DB.
if ! psql "host=$PG_HOST port=$PG_PORT user=postgres dbname=postgres" -Atc 'select 1' >/dev/null 2>&1 && [ -z "${FOURGATES_DB:-}" ]; then
  echo "PostgreSQL is up but user postgres cannot log in on $PG_HOST without a password." >&2
  echo "Either set FOURGATES_DB to a connection string that works, or allow trust for 127.0.0.1 in pg_hba.conf." >&2
  exit 1
fi
echo "PostgreSQL and RabbitMQ are up."
