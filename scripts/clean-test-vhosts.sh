#!/usr/bin/env bash
# Delete RabbitMQ vhosts that killed test runs left behind.
set -u
api=${RABBIT_MANAGEMENT:-http://guest:guest@127.0.0.1:15672/api}
for vhost in $(curl -fsS "$api/vhosts" | python3 -c 'import json,sys; print("\n".join(v["name"] for v in json.load(sys.stdin) if v["name"].startswith(("fourgates_test_", "nameko_test_"))))'); do
  curl -fsS -X DELETE "$api/vhosts/$vhost" >/dev/null && echo "deleted vhost $vhost"
done
exit 0
