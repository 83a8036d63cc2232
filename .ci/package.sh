#!/usr/bin/env bash
# CI: the Debian package, end to end, as root on this machine. Builds it with cargo-deb from the
# debug binary `cargo test` left (no second build), installs it with dpkg, checks its systemd
# unit with systemd-analyze, runs the unit's ExecStartPre and ExecStart command lines (read from
# the installed unit) as the unit's user in its working directory and umask, subscribes and
# confirms a reader through the running service, then purges the package and checks that no
# process, user, data or configuration of it is left.
#
# What it does not do: start the unit under systemd (CI has no systemd running), so the
# sandboxing lines (ProtectSystem=, SystemCallFilter=, ...) are checked by systemd-analyze, not
# exercised.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
export DEBIAN_FRONTEND=noninteractive
CARGO_DEB_VERSION=3.8.0

fail() { echo "package.sh: $*" >&2; exit 1; }

# The packaged configuration follows config/default.toml.
if ! diff -u debian/paperboy.toml <(scripts/debian-config.sh -) >&2; then
  fail "debian/paperboy.toml is not config/default.toml's commented copy: run scripts/debian-config.sh"
fi

if [ "$(cargo deb --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DEB_VERSION" ]; then
  cargo install --quiet --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi
if ! command -v systemd-analyze >/dev/null || ! command -v dpkg-shlibdeps >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd dpkg-dev >/dev/null
fi

# A package left (installed, or its configuration) by a run that was killed.
# (The status's second letter: n, not installed; anything else, something is on disk.)
present() { case "$(dpkg-query -W -f='${db:Status-Abbrev}' paperboy 2>/dev/null)" in "" | ?n*) false ;; *) true ;; esac; }
if present; then
  echo "package.sh: purging a paperboy package left by an earlier run" >&2
  dpkg --purge paperboy >/dev/null
fi

server=""
work="$(mktemp -d)"
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill "$server"; wait "$server" || true; fi
  if present; then dpkg --purge paperboy >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The binary `cargo test` built (in CI, just now); by hand, build it if missing.
target="${CARGO_TARGET_DIR:-target}"
[ -x "$target/debug/paperboy" ] || cargo build --bin paperboy
deb="$(cargo deb --no-build --profile dev --fast --no-dbgsym --no-separate-debug-symbols --output "$work" 2>"$work/cargo-deb.log" | tail -1)" \
  || { cat "$work/cargo-deb.log" >&2; fail "cargo deb failed"; }
[ -f "$deb" ] || { cat "$work/cargo-deb.log" >&2; fail "cargo deb wrote no package"; }
echo "package.sh: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB"

dpkg -i "$deb" >/dev/null
unit="$(dpkg -L paperboy | grep '/paperboy\.service$')"
[ "$(dpkg-query -W -f='${Conffiles}' paperboy | awk '{print $1}')" = /etc/paperboy/paperboy.toml ] \
  || fail "/etc/paperboy/paperboy.toml is not the package's one conffile"
[ "$(stat -c '%U:%G %a' /etc/paperboy/paperboy.toml)" = "root:paperboy 640" ] \
  || fail "/etc/paperboy/paperboy.toml is $(stat -c '%U:%G %a' /etc/paperboy/paperboy.toml), not root:paperboy 640"

# The unit: verify fails on an error; any warning fails here too.
verify="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify $unit: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify $unit warns: $verify"
# The sandbox's exposure (0 = fully sandboxed, 10 = none); a regression past 2.0 fails.
exposure="$(systemd-analyze security --offline=true "$unit" 2>&1 | sed -n 's/.*Overall exposure level for paperboy.service: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "the unit's exposure level is $exposure (> 2.0)"
echo "package.sh: $unit verified, exposure level $exposure"

# The unit's own lines: its user, working directory, umask, commands.
key() { sed -n "s/^$1=//p" "$unit"; }
user="$(key User)" workdir="$(key WorkingDirectory)" umask_="$(key UMask)"
read -ra pre <<<"$(key ExecStartPre)"
read -ra start <<<"$(key ExecStart)"
[ -n "$user" ] && [ -n "$workdir" ] && [ "${pre[0]:-}" = /usr/bin/paperboy ] && [ "${start[0]:-}" = /usr/bin/paperboy ] \
  || fail "cannot read User=, WorkingDirectory=, ExecStartPre= and ExecStart= from $unit"
uid="$(id -u "$user")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# As systemd would: a clean environment, the unit's user, working directory and umask. Only
# the port, the links and no hourly job differ from the installed configuration.
unit_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
  PAPERBOY_BIND="127.0.0.1:$port" PAPERBOY_BASE_URL="$base" PAPERBOY_SCHEDULE__ENABLED=false
  PAPERBOY_LOG=warn)
# setpriv, not runuser: it execs the command as the user, as systemd's User= does, with no
# new privileges and no capabilities (NoNewPrivileges=, CapabilityBoundingSet=), and leaves no
# parent between the script and the service (runuser answers SIGTERM with SIGKILL after 2 s,
# which would hide whether serve stops cleanly).
as_user=(setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs --bounding-set=-all --inh-caps=-all)
as_unit() { (cd "$workdir" && umask "${umask_:-0022}" && exec "${as_user[@]}" "${unit_env[@]}" "$@"); }

as_unit "${pre[@]}" || fail "ExecStartPre (${pre[*]}) failed"
# A subshell that execs: in the background its pid is the service's.
(cd "$workdir" && umask "${umask_:-0022}" && exec "${as_user[@]}" "${unit_env[@]}" "${start[@]}") \
  >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; fail "ExecStart (${start[*]}) exited"; }
  sleep 0.2
done
curl -fsS -o /dev/null "$base/healthz" || { cat "$work/serve.log" >&2; fail "no /healthz after 20 s"; }
# Ready too: the database in /var/lib/paperboy answers and its migrations are the binary's.
ready="$(curl -sS -o "$work/readyz.json" -w '%{http_code}' "$base/readyz")"
[ "$ready" = 200 ] || fail "/readyz: $ready $(cat "$work/readyz.json")"

# A reader subscribes through the JSON API and confirms by the link in the mail, which (no
# relay configured) is an .eml file in the data folder.
reader=reader@example.org
status="$(curl -sS -o "$work/subscribe.json" -w '%{http_code}' -H 'content-type: application/json' \
  --data "{\"email\": \"$reader\", \"topics\": [\"llm\"], \"keywords\": \"agents\"}" "$base/api/v1/subscriptions")"
[ "$status" = 202 ] || fail "POST /api/v1/subscriptions: $status $(cat "$work/subscribe.json")"
for _ in $(seq 100); do
  compgen -G "$workdir/mail/*.eml" >/dev/null && break
  sleep 0.2
done
eml="$(compgen -G "$workdir/mail/*.eml" | head -1)" || fail "no confirmation mail in $workdir/mail after 20 s"
link="$(python3 - "$eml" <<'PY'
import email, re, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
text = msg.get_body(preferencelist=("plain",)).get_content()
print(re.search(r"https?://\S+/confirm/\S+", text).group(0))
PY
)" || fail "no confirmation link in $eml"
[ "${link#"$base"/confirm/}" != "$link" ] || fail "the confirmation link $link is not on $base"
# The confirmation page's form, with its token and cookie, as a browser posts it.
token="$(curl -fsS -c "$work/cookies" "$link" | sed -n 's/.*name="form_token" value="\([^"]*\)".*/\1/p' | head -1)"
[ -n "$token" ] || fail "no form token on $link"
curl -fsS -b "$work/cookies" --data-urlencode "form_token=$token" "$link" | grep -q "You are subscribed" \
  || fail "POST $link did not confirm"
as_unit "${start[0]}" --config /etc/paperboy/paperboy.toml subscribers list --status active >"$work/list" \
  || fail "subscribers list failed"
grep -qP "\t\Q$reader\E\tactive\tllm" "$work/list" || fail "$reader is not active: $(cat "$work/list")"
[ "$(stat -c '%U %a' "$workdir/paperboy.db")" = "$user 640" ] \
  || fail "the database is $(stat -c '%U %a' "$workdir/paperboy.db"), not $user 640"

# Stop, purge: nothing of it stays.
kill "$server"
wait "$server" || fail "serve did not exit cleanly on SIGTERM: $(tail -5 "$work/serve.log")"
server=""
dpkg --purge paperboy >/dev/null
left="$(pgrep -U "$uid" -a || true)"
[ -z "$left" ] || fail "processes of uid $uid are left: $left"
! getent passwd "$user" >/dev/null || fail "user $user is left"
! getent group "$user" >/dev/null || fail "group $user is left"
for path in /var/lib/paperboy /etc/paperboy /usr/bin/paperboy "$unit"; do
  [ ! -e "$path" ] || fail "$path is left after purge"
done
echo "package.sh: installed, verified, served, subscribed $reader, purged: $((SECONDS - started)) s"
