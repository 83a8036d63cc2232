#!/usr/bin/env bash
# Writes debian/paperboy.toml, the Debian package's /etc/paperboy/paperboy.toml, from
# config/default.toml: every key commented out at its default, except the data paths, which
# the package puts in /var/lib/paperboy (the unit's StateDirectory). Rerun it whenever
# config/default.toml changes; .ci/package.sh fails while the two disagree.
#
#   scripts/debian-config.sh            # rewrites debian/paperboy.toml
#   scripts/debian-config.sh -          # prints it instead
set -euo pipefail
cd "$(dirname "$0")/.."

generate() {
  cat <<'HEAD'
# /etc/paperboy/paperboy.toml: paperboy's configuration, as installed by the Debian package.
#
# Every key is here with its built-in default, commented out (#key = value): uncomment and
# change what you need. Set at least base_url, mail_from, smtp_url and operator's
# postal_address before `systemctl enable --now paperboy`.
#
# Load order (later wins): the defaults built into the binary, this file (the unit passes
# --config), environment variables (a drop-in: `systemctl edit paperboy`). A top-level key
# `foo` is PAPERBOY_FOO; a key `bar` in section [sec] is PAPERBOY_SEC__BAR. PAPERBOY_SECRET_FILE,
# PAPERBOY_ADMIN_TOKEN_FILE and PAPERBOY_SMTP_URL_FILE read those three keys from files, e.g.
# systemd credentials: LoadCredential=secret:/etc/paperboy/secret with
# Environment=PAPERBOY_SECRET_FILE=%d/secret.
#
# The package sets only the data paths: the database and the generated signing key live in
# /var/lib/paperboy, the one folder the service may write to.
#
# This file is generated from paperboy's config/default.toml by scripts/debian-config.sh.

HEAD
  # The defaults' own opening paragraph (up to the first blank line) speaks of itself: the
  # header above replaces it.
  awk '
    !started { if ($0 == "") started = 1; next }
    /^\[/ { section = $0 }
    /^[A-Za-z0-9_]+ *=/ {
      key = $1; sub(/=.*/, "", key); gsub(/ /, "", key)
      if (section == "" && key == "database_url") { print "database_url = \"sqlite:///var/lib/paperboy/paperboy.db\""; next }
      if (section == "" && key == "data_dir") { print "data_dir = \"/var/lib/paperboy\""; next }
      print "#" $0; next
    }
    { print }
  ' config/default.toml
}

if [ "${1:-}" = "-" ]; then
  generate
else
  generate > debian/paperboy.toml
fi
