#!/usr/bin/env bash
# Remakes docs/img/form.png, docs/img/digest.png and docs/img/dashboard.png: the subscription
# form as `paperboy serve` shows it, the HTML part of a digest for the captured Hugging Face
# day in tests/fixtures/, and the console's dashboard, photographed by headless Chromium.
# The dashboard's today is counted from what the script did (1,400 readers imported, their
# digests sent); the 89 days before are simulated (a list growing by a few readers a day),
# written into daily_stats by Python. Needs Debian's `chromium`;
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

# The dashboard: a few readers today, their digests sent, the figures counted; then the
# 89 days before simulated; then signed in with curl and the page saved with a <base>, so
# that Chromium (which cannot sign in from the command line) loads its stylesheet.
python3 - "$work/readers.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,topics,keywords,consented_at\n")
    for i in range(1400):
        f.write(f"reader{i}@example.com,llm,agents,2026-09-01T00:00:00Z\n")
PY
"$bin" subscribers import "$work/readers.csv" --mode confirmed --source "screenshot list" >/dev/null
"$bin" run-daily --date "$day" --skip-ingest >/dev/null
"$bin" maintenance stats >/dev/null
# The 89 days before today, walked back from today's counted figures: a list that grew by
# its confirmations and shrank by its departures.
python3 - "$work/paperboy.db" <<'PY'
import datetime, math, random, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
random.seed(7)
today = datetime.datetime.now(datetime.timezone.utc).date()
now = dict(db.execute("SELECT metric, value FROM daily_stats WHERE day = ?", (today.isoformat(),)))
active, unsubscribed, suppressed = now["active"], now["unsubscribed"], now["suppressed"]
for back in range(1, 90):
    day = (today - datetime.timedelta(days=back)).isoformat()
    signups = 8 + int(4 * math.sin(back / 6)) + random.randint(0, 4)
    confirmed = int(signups * 0.8)
    unsubs, suppressions = random.randint(0, 3), int(random.random() < 0.3)
    sent = active if back % 7 not in (0, 1) else active // 8
    rows = {
        "active": active, "pending": 20 + random.randint(0, 10),
        "unsubscribed": unsubscribed, "suppressed": suppressed,
        "sign_ups": signups, "confirmations": confirmed, "unsubscribes": unsubs,
        "suppressions": suppressions, "digests_sent": sent,
        "deferred": random.randint(0, 6), "bounced": random.randint(0, 2),
        "complaints": int(random.random() < 0.1),
        "rated_more": sent // 12 + random.randint(0, 9),
        "rated_fewer": sent // 40 + random.randint(0, 4),
    }
    db.executemany(
        "INSERT INTO daily_stats (day, metric, value) VALUES (?, ?, ?) "
        "ON CONFLICT (day, metric) DO UPDATE SET value = excluded.value",
        [(day, k, v) for k, v in rows.items()])
    # The day before: the readers this day added not yet there, those it lost still there.
    active -= confirmed - unsubs - suppressions
    unsubscribed, suppressed = max(unsubscribed - unsubs, 0), max(suppressed - suppressions, 0)
db.commit()
PY
password="a password for the screenshot"
printf '%s\n' "$password" | "$bin" operator set-password ada >/dev/null
jar="$work/cookies"
token="$(curl -fsS -c "$jar" -b "$jar" "http://127.0.0.1:$port/admin/sign-in" |
  grep -o 'name="form_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')"
curl -fsS -o /dev/null -c "$jar" -b "$jar" --data-urlencode "form_token=$token" \
  --data-urlencode name=ada --data-urlencode "password=$password" \
  "http://127.0.0.1:$port/admin/sign-in"
curl -fsS -b "$jar" "http://127.0.0.1:$port/admin" |
  sed "s|<head>|<head><base href=\"http://127.0.0.1:$port/\">|" >"$work/dashboard.html"
grep -q '<h1>Dashboard</h1>' "$work/dashboard.html" || { echo "not signed in to the console" >&2; exit 1; }
shoot "file://$work/dashboard.html" docs/img/dashboard.png 820,1700
ls -l docs/img/form.png docs/img/digest.png docs/img/dashboard.png
