#!/usr/bin/env bash
# The API contract: schemathesis generates requests from /api/v1/openapi.json and checks
# every answer against the document (--checks all), on a served instance on SQLite. Any
# finding fails. Seeded and bounded, so a run is repeatable and short.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SEED=${CONTRACT_SEED:-20240514}
EXAMPLES=${CONTRACT_EXAMPLES:-200}
target=${CARGO_TARGET_DIR:-target}

venv="$target/schemathesis-$SCHEMATHESIS_VERSION"
if [ ! -x "$venv/bin/schemathesis" ]; then
  # Debian's python3 needs python3-venv for this.
  if ! python3 -m venv "$venv"; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --bin paperboy

work=$(mktemp -d)
pid=""
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT

# A free port: bind port 0, read it back, let it go.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin_token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')

# SQLite in the temporary folder; mail goes to .eml files there; no scheduler. The rate
# limits are raised so that the generated requests are judged on their content, not throttled.
env PAPERBOY_DATABASE_URL="sqlite://$work/paperboy.db" \
  PAPERBOY_DATA_DIR="$work" \
  PAPERBOY_BIND="127.0.0.1:$port" \
  PAPERBOY_BASE_URL="http://127.0.0.1:$port" \
  PAPERBOY_ADMIN_TOKEN="$admin_token" \
  PAPERBOY_SMTP_URL="" \
  PAPERBOY_SCHEDULE__ENABLED=false \
  PAPERBOY_LIMITS__POSTS_PER_MINUTE=100000 \
  PAPERBOY_LIMITS__POST_BURST=100000 \
  PAPERBOY_SUBSCRIBE__MAX_MAILS_PER_CLIENT_PER_HOUR=100000 \
  PAPERBOY_LOG=warn \
  "$target/debug/paperboy" serve >"$work/serve.log" 2>&1 &
pid=$!

healthy() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://127.0.0.1:$port/healthz" 2>/dev/null
}
for _ in $(seq 150); do
  if healthy; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/serve.log"; echo "contract: paperboy serve exited" >&2; exit 1; fi
  sleep 0.2
done
if ! healthy; then cat "$work/serve.log"; echo "contract: /healthz did not answer" >&2; exit 1; fi

start=$(date +%s)
status=0
PAPERBOY_ADMIN_TOKEN="$admin_token" "$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --checks all \
  --seed "$SEED" \
  --max-examples "$EXAMPLES" \
  --generation-database none \
  --workers 1 \
  --no-color | tee "$work/pass1.log" || status=$?

# Second pass: a subscription that exists, read by its real manage token.
if token=$(python3 .ci/contract_token.py "http://127.0.0.1:$port" "$work"); then
  PAPERBOY_CONTRACT_TOKEN="$token" "$venv/bin/schemathesis" --config-file .ci/schemathesis-existing.toml run \
    "http://127.0.0.1:$port/api/v1/openapi.json" \
    --include-name "GET /api/v1/subscriptions/{token}" \
    --checks all \
    --seed "$SEED" \
    --max-examples 20 \
    --generation-database none \
    --workers 1 \
    --no-color | tee "$work/pass2.log" || status=$?
else
  echo "contract: could not subscribe and confirm a reader" >&2
  status=1
fi
echo "contract: schemathesis $SCHEMATHESIS_VERSION took $(($(date +%s) - start)) s"
if grep -q "panicked\|ERROR" "$work/serve.log"; then
  echo "contract: the server logged errors:" >&2
  cat "$work/serve.log" >&2
  status=1
fi
# A closing line in the form CI reads, from schemathesis' own counts ("N generated, N passed").
if [ "$status" -eq 0 ]; then
  cases=$(cat "$work"/pass*.log | sed -nE 's/^ *([0-9]+) generated, ([0-9]+) passed.*/\2/p' | awk '{ n += $1 } END { print n + 0 }')
  echo "contract: ${cases:-0} passed, 0 failed"
fi
exit "$status"
