#!/usr/bin/env bash
# Set up and run the whole test suite: formatting, lint, types, then every test tier.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/redis.sh
scripts/postgres.sh
echo "== ruff format --check"; .venv/bin/ruff format --check ivr scoring tests benchmarks
echo "== ruff check";          .venv/bin/ruff check ivr scoring tests benchmarks
echo "== mypy";                .venv/bin/mypy
echo "== pytest";              .venv/bin/pytest "$@"
