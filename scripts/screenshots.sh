#!/usr/bin/env bash
# Remakes docs/img/form.png and docs/img/digest.png: the subscription form as `paperboy serve`
# shows it, and the HTML part of a digest for the captured Hugging Face day in
# tests/fixtures/, both photographed by headless Chromium. Needs Debian's `chromium`;
# `pngquant` and `optipng`, when present, keep the PNGs small.
#
#   scripts/screenshots.sh            # from the repository root; builds the debug binary
set -euo pipefail
cd "$(dirname "$0")/.."

command -v chromium >/dev/null || { echo "chromium is missing: apt-get install chromium" >&2; exit 1; }
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/paperboy"
port="${PORT:-18731}"
day=2026-05-08

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh database and data folder; the built-in defaults otherwise. No relay: mail goes to
# .eml files. No scheduler, so nothing is fetched from the network.
export PAPERBOY_DATABASE_URL="sqlite://$work/paperboy.db"
export PAPERBOY_DATA_DIR="$work"
export PAPERBOY_BIND="127.0.0.1:$port"
export PAPERBOY_BASE_URL="http://127.0.0.1:$port"
export PAPERBOY_SCHEDULE__ENABLED=false
export PAPERBOY_LOG=warn

"$bin" migrate >/dev/null
"$bin" ingest --file "tests/fixtures/hf_json/daily_papers_$day.json" --date "$day" >/dev/null
"$bin" subscribers add ada@example.com --topics llm,reinforcement-learning \
  --keywords '"world model", agents' >/dev/null
"$bin" preview --email ada@example.com --date "$day" --format html >"$work/digest.html"

"$bin" serve &
server=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

shoot() { # url, output, width,height
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --force-device-scale-factor=1 --user-data-dir="$work/chromium" \
    --window-size="$3" --screenshot="$2" "$1" 2>/dev/null
  if command -v pngquant >/dev/null; then pngquant --force --quality=60-90 --output "$2" -- "$2"; fi
  if command -v optipng >/dev/null; then optipng -quiet -o2 "$2"; fi
}

mkdir -p docs/img
shoot "http://127.0.0.1:$port/" docs/img/form.png 820,1400
shoot "file://$work/digest.html" docs/img/digest.png 760,1500
ls -l docs/img/form.png docs/img/digest.png
