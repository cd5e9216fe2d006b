#!/usr/bin/env bash
# Make sure a PostgreSQL server listens on 127.0.0.1:5432 for the records tests: the machine's
# own (started with pg_ctlcluster if it is installed but stopped). The tests create and drop
# their own scratch databases; nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

listening() {
  .venv/bin/python -c 'from ivr.redis_server import is_listening; import sys; sys.exit(not is_listening("127.0.0.1", 5432))'
}
[ -n "${WARMLINE_TEST_POSTGRES_URL:-}" ] && exit 0  # the tests use a server elsewhere
listening && exit 0
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 100); do listening && exit 0; sleep 0.1; done
fi
echo "postgres: no PostgreSQL server listens on 127.0.0.1:5432 and none could be started." >&2
echo "postgres: install one (Debian: apt-get install postgresql) or set WARMLINE_TEST_POSTGRES_URL." >&2
exit 1
