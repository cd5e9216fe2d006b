#!/usr/bin/env bash
# Set up and run the main job: the server with the sample deployment, plus one demo call placed
# through the simulator over real HTTP. The server stays up for your own calls until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/redis.sh
.venv/bin/warmline validate warmline.yaml
if [ ! -f models/intent/intent.json ]; then
  # Weights are never committed: the first run trains the intent classifier from scoring/data.
  echo "== No intent model in models/intent/: training one (about 6 minutes on 2 CPU cores)."
  .venv/bin/warmline train intent --out models/intent
fi

port=${WARMLINE_PORT:-8080}
export WARMLINE_PORT=$port
export WARMLINE_PUBLIC_URL=${WARMLINE_PUBLIC_URL:-http://127.0.0.1:$port}
if [ -z "${WARMLINE_TWILIO_AUTH_TOKEN:-}" ]; then
  # A throwaway token for local simulation; with real Twilio, export your account's token.
  WARMLINE_TWILIO_AUTH_TOKEN=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')
  export WARMLINE_TWILIO_AUTH_TOKEN
fi

.venv/bin/warmline serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(\"http://127.0.0.1:$port/healthz\", timeout=1)" 2>/dev/null && break
  kill -0 $server 2>/dev/null || exit 1
  sleep 0.1
done

echo
echo "== A demo call through the simulator (Twilio's side, signed webhooks over HTTP):"
.venv/bin/warmline simulate --server "$WARMLINE_PUBLIC_URL" --script tests/scenarios/scored/ready_offer_accepted.yaml
sleep 2  # the server's recorder writes a call to the records about a second after its last webhook
echo
echo "== Today's P&L from the records (data/warmline.db), by publisher:"
.venv/bin/warmline report pnl --by publisher --from "$(date -u +%F)" --to "$(date -u +%F)"
if [ "$(.venv/bin/warmline users list --json)" = "[]" ]; then
  # A first account for the web pages; change its password with `warmline users password admin`.
  password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
  printf '%s\n' "$password" | .venv/bin/warmline users add admin --role admin --password-stdin
  echo "== Web pages: $WARMLINE_PUBLIC_URL/login  (user admin, password $password)"
fi
echo
echo "Server running on $WARMLINE_PUBLIC_URL. Place your own call in another terminal:"
echo "  WARMLINE_TWILIO_AUTH_TOKEN=$WARMLINE_TWILIO_AUTH_TOKEN .venv/bin/warmline simulate --server $WARMLINE_PUBLIC_URL"
echo "Ctrl-C stops the server."
wait $server
